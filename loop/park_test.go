package loop

import (
	"context"
	"testing"
	"time"
)

// A parked loop (the default for an unpinned one) is woken by its timers: each
// fires no earlier than asked, and not seconds late, which a lost wakeup would
// make it. The bound on lateness is loose on purpose (the race detector on two
// shared cores), not a performance figure.
func TestParkedLoopFiresTimersNeitherEarlyNorLate(t *testing.T) {
	l := newTestLoop(t, nil)
	if l.cfg.Wait != WaitPark {
		t.Fatalf("an unpinned loop waits with %v, want park", l.cfg.Wait)
	}
	startRun(t, l, context.Background())
	const timers, lateBound = 20, time.Second
	type fired struct{ asked, after time.Duration }
	results := make(chan fired, timers)
	submitAndWait(t, l, func() {
		for i := range timers {
			d := time.Duration(i%5+1) * time.Millisecond
			start := time.Now()
			l.AfterFunc(d, func() { results <- fired{d, time.Since(start)} })
		}
	})
	for range timers {
		r := <-results
		if r.after < r.asked || r.after > r.asked+lateBound {
			t.Fatalf("a %v timer fired after %v", r.asked, r.after)
		}
	}
}

// New checks the wait mode against the pin.
func TestNewRejectsParkingAPinnedLoopAndResolvesAuto(t *testing.T) {
	if _, err := New(Config{CPU: 0, Wait: WaitPark}); err == nil {
		t.Fatal("New(CPU 0, WaitPark) succeeded: a pinned loop cannot park")
	}
	if _, err := New(Config{CPU: NoPin, Wait: WaitBlock + 1}); err == nil {
		t.Fatal("New with an unknown WaitMode succeeded")
	}
	for _, tc := range []struct {
		cpu  int
		want WaitMode
	}{{NoPin, WaitPark}, {0, WaitBlock}} {
		l, err := New(Config{CPU: tc.cpu})
		if err != nil {
			t.Fatal(err)
		}
		if l.cfg.Wait != tc.want {
			t.Errorf("CPU %d with WaitAuto waits with %v, want %v", tc.cpu, l.cfg.Wait, tc.want)
		}
		l.Close()
	}
}

// BenchmarkSubmitWake measures how long a task submitted to an idle loop takes to
// run: the Submit, the wake of a loop that waits (parked or blocked), and the
// round. Each op waits for its task, so the loop is idle again before the next.
func BenchmarkSubmitWake(b *testing.B) {
	for _, wait := range []WaitMode{WaitPark, WaitBlock} {
		b.Run(wait.String(), func(b *testing.B) {
			l := newTestLoopWaiting(b, wait, nil)
			startRun(b, l, context.Background())
			ran := make(chan struct{}, 1)
			task := func() { ran <- struct{}{} }
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := l.Submit(task); err != nil {
					b.Fatal(err)
				}
				<-ran
			}
		})
	}
}
