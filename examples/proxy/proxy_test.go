package main

import (
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
)

// maxQueue is the most a proxy end may hold for a slow reader: the high-water
// mark, plus one read (the loop's read buffer) taken before the check.
const maxQueue = defaultHighWater + loop.DefaultReadBufferSize

// checkPeak fails the test if an end ever queued more than maxQueue.
func checkPeak(t *testing.T, p *proxy) {
	t.Helper()
	if peak := p.peakQueued.Load(); peak > maxQueue {
		t.Errorf("an end queued %d bytes, want at most %d (high water + one read)", peak, maxQueue)
	}
}

// roundTrip streams size bytes from seed through the proxy to an echo upstream
// and back, on one conn, and shuts the conn's writing side after them. It
// checks that exactly those bytes came back, then EOF, and returns their digest
// for the caller to compare with what the upstream received.
func roundTrip(conn *net.TCPConn, seed uint64, size int64) (digest, error) {
	type result struct {
		d   digest
		err error
	}
	sent := make(chan result, 1)
	go func() {
		d, err := sendAndClose(conn, seed, size)
		sent <- result{d, err}
	}()
	back, readErr := readStream(conn)
	s := <-sent
	switch {
	case s.err != nil:
		return s.d, fmt.Errorf("send: %w", s.err)
	case readErr != nil:
		return s.d, fmt.Errorf("read back: %w (after %v)", readErr, back)
	case back != s.d:
		return s.d, fmt.Errorf("sent %v, got back %v", s.d, back)
	}
	return s.d, nil
}

// 100 MiB through the proxy and back on one conn, both ways at once: every
// byte arrives in order, and neither end's queue passes the high-water mark
// by more than one read however the two directions' speeds differ.
func TestHundredMiBBothWaysIntact(t *testing.T) {
	received := make(chan digest, 1)
	p, e := startProxy(t, startUpstream(t, echoUpstream(received)))
	sent, err := roundTrip(dial(t, e), 1, 100<<20)
	if err != nil {
		t.Fatal(err)
	}
	if up := testutil.Recv(t, received, testWait, "the upstream's digest"); up != sent {
		t.Fatalf("the client sent %v, the upstream received %v", sent, up)
	}
	checkPeak(t, p)
}

// Fifty pairs at once, spread over both loops, each with a stream of its own.
func TestFiftyPairsAtOnce(t *testing.T) {
	const pairs = 50
	received := make(chan digest, pairs)
	_, e := startProxy(t, startUpstream(t, echoUpstream(received)))
	conns := make([]*net.TCPConn, pairs)
	for i := range conns {
		conns[i] = dial(t, e)
	}
	sent := make(chan digest, pairs)
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Go(func() {
			d, err := roundTrip(conn, uint64(100+i), int64(64<<10+i*4096))
			if err != nil {
				t.Errorf("pair %d: %v", i, err)
			}
			sent <- d
		})
	}
	wg.Wait()
	// The upstream reports in its own order: compare the two sets.
	want := make(map[digest]bool, pairs)
	for range pairs {
		want[<-sent] = true
	}
	for range pairs {
		up := testutil.Recv(t, received, testWait, "the upstream's digests")
		if !want[up] {
			t.Errorf("the upstream received %v, which no client sent", up)
		}
		delete(want, up)
	}
}
