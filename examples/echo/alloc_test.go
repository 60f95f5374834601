package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/sycamore-go/sycamore/examples/internal/clitest"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// One echo round trip over loopback allocates nothing, on the server or in the
// client: the server reads into the loop's shared buffer and writes from a
// pooled queue, and a net.Conn's Read and Write allocate nothing in steady
// state. AllocsPerRun counts the whole process's allocations, so any
// per-message allocation on the loop goroutine shows. Under the race detector
// sync.Pool drops some of what is put back, so the count is only logged.
func TestEchoRoundTripAllocatesNothing(t *testing.T) {
	f := clitest.Flags()
	f.Loops = 1
	conn := dial(t, startEcho(t, f))
	msg := bytes.Repeat([]byte("sycamore"), 8)
	reply := make([]byte, len(msg))
	var failed error
	roundTrip := func() {
		if failed != nil {
			return
		}
		if _, failed = conn.Write(msg); failed == nil {
			_, failed = io.ReadFull(conn, reply)
		}
	}
	for range 200 { // warm the pools, the loop's slices and the runtime poller
		roundTrip()
	}
	allocs := testing.AllocsPerRun(1000, roundTrip)
	if failed != nil {
		t.Fatalf("round trip: %v", failed)
	}
	if !bytes.Equal(reply, msg) {
		t.Fatalf("echo: got %q, want %q", reply, msg)
	}
	if testutil.RaceEnabled {
		t.Logf("race detector on: %.2f allocations per round trip (sync.Pool drops); not checked", allocs)
		return
	}
	if allocs != 0 {
		t.Errorf("%.2f allocations per echo round trip, want 0", allocs)
	}
}
