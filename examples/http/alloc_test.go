package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// oneTimeAllocSlack is how many allocations in 1000 round trips the loopback
// test forgives. A per-request allocation shows as 1000 or more; but a one-time
// allocation anywhere in the process (a cache the runtime builds lazily) can land
// inside the count, rarely (once in a few hundred runs, seen only on a loaded
// machine), and must not fail the test.
const oneTimeAllocSlack = 2

// responseLen is the length of r as a keep-alive HTTP/1.1 response with a body.
func responseLen(r *response) int {
	return len(r.head) + dateLineLen + len("\r\n") + len(r.body)
}

// Parsing a request and building its response allocate nothing.
func TestParseAndRespondAllocateNothing(t *testing.T) {
	raw := []byte("GET /json?x=1 HTTP/1.1\r\nHost: test\r\nUser-Agent: wrk\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
	clock := newDateClock(time.Now())
	scratch := make([]byte, 0, scratchSize)
	var failed bool
	allocs := testing.AllocsPerRun(1000, func() {
		req, n, status := parseRequest(raw)
		if status != headComplete || n != len(raw) {
			failed = true
			return
		}
		r := route(&req)
		scratch = appendResponse(scratch[:0], r, clock.line, connHeaderFor(&req, !req.keepAlive), req.method != methodHEAD)
	})
	if failed {
		t.Fatalf("parseRequest(%q) failed", raw)
	}
	if len(scratch) != responseLen(jsonOK) {
		t.Fatalf("response of %d bytes, want %d", len(scratch), responseLen(jsonOK))
	}
	if allocs != 0 {
		t.Errorf("parse and respond: %.0f allocations, want 0", allocs)
	}
}

// A request served over loopback allocates nothing in steady state, one by one
// or pipelined. The count is the whole process's: the loop goroutine's read,
// parse, response and flush, and the test client's write and read.
func TestServingOverLoopbackAllocatesNothing(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	// The loop's first timer run (the Date clock's first tick, a second after the
	// start) allocates the loop's list of due timers, once. Wait for it, so that
	// it does not land inside the count.
	testutil.Eventually(t, waitLimit, func() bool { return ts.loops[0].Stats().TimersFired > 0 },
		"the Date clock's first tick")
	for _, tc := range []struct {
		name     string
		requests int
	}{{"one", 1}, {"pipelined", 8}} {
		t.Run(tc.name, func(t *testing.T) {
			request := []byte(strings.Repeat(get("/plaintext"), tc.requests))
			reply := make([]byte, tc.requests*responseLen(plaintextOK))
			var failed error
			roundTrip := func() {
				if failed != nil {
					return
				}
				if _, failed = cl.conn.Write(request); failed == nil {
					_, failed = io.ReadFull(cl.conn, reply)
				}
			}
			for range 200 { // fill the pools and the loop's slices
				roundTrip()
			}
			checkNoAllocs(t, failed, reply, plaintextOK, testutil.Mallocs(1000, roundTrip),
				fmt.Sprintf("round trips of %d requests", tc.requests))
		})
	}
}

// A request that arrives in several reads runs the request clock (see
// requestClock): the conn's first partial request makes its timer, and every
// later one re-arms the same timer, also when the head completes and the clock
// moves to the body's deadline. So serving split requests allocates nothing in
// steady state either.
func TestSplitRequestsAllocateNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		r     *response
	}{
		{"head", []string{"GET /plaintext HTTP/1.1\r\n", "Host: test\r\n\r\n"}, plaintextOK},
		{"head and body", []string{"POST /plaintext HTTP/1.1\r\n", "Host: test\r\nContent-Length: 5\r\n\r\n", "hello"}, methodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, 1)
			l := ts.loops[0]
			cl := dial(t, ts.addrs[0])
			testutil.Eventually(t, waitLimit, func() bool { return l.Stats().TimersFired > 0 },
				"the Date clock's first tick") // as in TestServingOverLoopbackAllocatesNothing
			parts := make([][]byte, len(tc.parts)) // a string written would be copied
			for i, part := range tc.parts {
				parts[i] = []byte(part)
			}
			reply := make([]byte, responseLen(tc.r))
			var failed error
			roundTrip := func() {
				for i, part := range parts {
					if failed != nil {
						return
					}
					read := l.Stats().BytesIn
					if _, failed = cl.conn.Write(part); failed != nil || i == len(parts)-1 {
						break
					}
					// Send the next part only once the server has read this one on
					// its own, so that it does see a partial request every time.
					for deadline := time.Now().Add(waitLimit); l.Stats().BytesIn < read+uint64(len(part)); {
						if time.Now().After(deadline) {
							failed = errors.New("the server did not read a part of the request")
							return
						}
						// Sleep, not Gosched: Mallocs runs on one P, and a
						// goroutine that only yields keeps it busy, so the
						// parked loop would wait for sysmon's network poll
						// (up to 10 ms) instead of the idle P's.
						time.Sleep(20 * time.Microsecond)
					}
				}
				if failed == nil {
					_, failed = io.ReadFull(cl.conn, reply)
				}
			}
			for range 200 { // make the conn's timer, fill the pools and the loop's slices
				roundTrip()
			}
			checkNoAllocs(t, failed, reply, tc.r, testutil.Mallocs(1000, roundTrip), "round trips of split requests")
		})
	}
}

// checkNoAllocs checks 1000 round trips that made total allocations: none
// failed, the last reply ends with r's body, and they allocated nothing
// beyond oneTimeAllocSlack. Under the race detector, whose sync.Pool drops items
// at random, the count is only logged.
func checkNoAllocs(t *testing.T, failed error, reply []byte, r *response, total uint64, what string) {
	t.Helper()
	if failed != nil {
		t.Fatalf("round trip: %v", failed)
	}
	if !strings.HasSuffix(string(reply), string(r.body)) {
		t.Fatalf("unexpected reply %q", reply)
	}
	if testutil.RaceEnabled {
		t.Logf("race detector on: %d allocations in 1000 %s (pool drops), not checked", total, what)
		return
	}
	if total > oneTimeAllocSlack {
		t.Errorf("%d allocations in 1000 %s, want 0", total, what)
	}
}
