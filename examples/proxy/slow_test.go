package main

import (
	"net"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// slowSize is the stream a slow reader is sent: 32 MiB, far more than the
// loopback socket buffers and the high-water mark together, so the proxy must
// stop reading the fast side or grow without bound.
const slowSize = 32 << 20

// A client that does not read while the upstream sends 32 MiB: the proxy fills
// the client's queue to the high-water mark, stops reading the upstream, and
// goes no further. Once the client reads, everything arrives intact.
func TestSlowClientKeepsQueueBounded(t *testing.T) {
	sent := make(chan digest, 1)
	upstream := startUpstream(t, func(conn net.Conn) {
		d, err := sendAndClose(conn.(*net.TCPConn), 7, slowSize)
		if err != nil {
			d.n = -1
		}
		sent <- d
	})
	p, e := startProxy(t, upstream)
	conn := dial(t, e)
	testutil.Eventually(t, testWait, func() bool { return p.peakQueued.Load() > defaultHighWater },
		"the client's queue to reach the high-water mark (peak %d)", p.peakQueued.Load())
	got, err := readStream(conn)
	if err != nil {
		t.Fatalf("read: %v (after %v)", err, got)
	}
	if want := testutil.Recv(t, sent, testWait, "the upstream to finish"); got != want {
		t.Fatalf("the upstream sent %v, the client got %v", want, got)
	}
	checkPeak(t, p)
}

// An upstream that does not read while the client sends 32 MiB: the same
// bound holds in the other direction.
func TestSlowUpstreamKeepsQueueBounded(t *testing.T) {
	gate := make(chan struct{})
	received := make(chan digest, 1)
	upstream := startUpstream(t, func(conn net.Conn) {
		<-gate
		d, err := readStream(conn)
		if err != nil {
			d.n = -1
		}
		received <- d
		conn.Close()
	})
	p, e := startProxy(t, upstream)
	conn := dial(t, e)
	type result struct {
		d   digest
		err error
	}
	sent := make(chan result, 1)
	go func() {
		d, err := sendAndClose(conn, 8, slowSize)
		sent <- result{d, err}
	}()
	testutil.Eventually(t, testWait, func() bool { return p.peakQueued.Load() > defaultHighWater },
		"the upstream's queue to reach the high-water mark (peak %d)", p.peakQueued.Load())
	close(gate)
	s := testutil.Recv(t, sent, testWait, "the client to finish sending")
	if s.err != nil {
		t.Fatalf("send: %v", s.err)
	}
	if got := testutil.Recv(t, received, testWait, "the upstream to read to EOF"); got != s.d {
		t.Fatalf("the client sent %v, the upstream got %v", s.d, got)
	}
	checkPeak(t, p)
}
