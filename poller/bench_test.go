package poller_test

import (
	"testing"

	"github.com/sycamore-go/sycamore/poller"
)

// BenchmarkWaitReady measures a non-blocking Wait that reports one ready fd.
func BenchmarkWaitReady(b *testing.B) {
	p := newPoller(b)
	sp := socketPair(b)
	if err := p.Add(sp[0], poller.Readable); err != nil {
		b.Fatalf("Add: %v", err)
	}
	writeByte(b, sp[1])
	events := make([]poller.Event, 8)
	b.ReportAllocs()
	for b.Loop() {
		if n, err := p.Wait(events, 0); n != 1 || err != nil {
			b.Fatalf("Wait = (%d, %v), want (1, nil)", n, err)
		}
	}
}

// BenchmarkWakeCoalesced measures a Wake that finds a wakeup already pending and
// so makes no syscall.
func BenchmarkWakeCoalesced(b *testing.B) {
	p := newPoller(b)
	if err := p.Wake(); err != nil {
		b.Fatalf("Wake: %v", err)
	}
	before := p.WakeWrites()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Wake(); err != nil {
			b.Fatalf("Wake: %v", err)
		}
	}
	b.StopTimer()
	if got := p.WakeWrites() - before; got != 0 {
		b.Fatalf("coalesced Wakes made %d kernel writes, want 0", got)
	}
}

// BenchmarkWakeAndDrain measures one wakeup round trip: a Wake that reaches the
// kernel and the Wait that drains it.
func BenchmarkWakeAndDrain(b *testing.B) {
	p := newPoller(b)
	events := make([]poller.Event, 8)
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Wake(); err != nil {
			b.Fatalf("Wake: %v", err)
		}
		if n, err := p.Wait(events, 0); n != 0 || err != nil {
			b.Fatalf("Wait = (%d, %v), want (0, nil)", n, err)
		}
	}
}
