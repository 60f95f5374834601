package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

func TestHTTPTimeFormatIsNetHTTPs(t *testing.T) {
	if httpTimeFormat != http.TimeFormat {
		t.Fatalf("httpTimeFormat %q, want net/http's %q", httpTimeFormat, http.TimeFormat)
	}
}

// The tick rewrites the line in place, in UTC, without allocating.
func TestDateClockSetsTheLineInPlace(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	clock := newDateClock(time.Date(2024, 2, 29, 23, 59, 59, 0, paris))
	if got, want := string(clock.line), "Date: Thu, 29 Feb 2024 22:59:59 GMT\r\n"; got != want {
		t.Fatalf("line %q, want %q", got, want)
	}
	before := &clock.line[0]
	later := time.Date(2031, 12, 1, 0, 0, 0, 0, time.UTC)
	allocs := testing.AllocsPerRun(100, func() { clock.set(later) })
	if got, want := string(clock.line), "Date: Mon, 01 Dec 2031 00:00:00 GMT\r\n"; got != want {
		t.Fatalf("line %q, want %q", got, want)
	}
	if &clock.line[0] != before || len(clock.line) != dateLineLen {
		t.Errorf("the line moved or changed length (%d, want %d)", len(clock.line), dateLineLen)
	}
	if allocs != 0 {
		t.Errorf("set allocates %.0f times, want 0", allocs)
	}
}

// Each loop's Date advances on its own timer: a conn on either loop sees a later
// Date within a few seconds.
func TestDateAdvancesOnEveryLoop(t *testing.T) {
	ts := startServer(t, 2)
	if ts.srv.loops[0].clock == ts.srv.loops[1].clock {
		t.Fatal("the two loops share one clock")
	}
	for i, addr := range ts.addrs {
		cl := dial(t, addr)
		resp, body := cl.roundTrip("GET", get("/plaintext"))
		checkResponse(t, resp, body, 200, helloBody)
		first := resp.Header.Get("Date")
		testutil.Eventually(t, 5*time.Second, func() bool {
			resp, _ := cl.roundTrip("GET", get("/plaintext"))
			return resp.Header.Get("Date") != first
		}, "loop %d: Date still %s", i, first)
	}
}

// stop cancels the clocks' timers, so the loops hold none.
func TestStopCancelsTheClockTimers(t *testing.T) {
	ts := startServer(t, 2)
	for _, l := range ts.loops {
		testutil.Eventually(t, waitLimit, func() bool { return l.Stats().Timers == 1 },
			"loop %d: %d timers, want the clock's 1", l.ID(), l.Stats().Timers)
	}
	ts.srv.stop()
	for _, l := range ts.loops {
		testutil.Eventually(t, waitLimit, func() bool { return l.Stats().Timers == 0 },
			"loop %d: %d timers after stop, want 0", l.ID(), l.Stats().Timers)
	}
}
