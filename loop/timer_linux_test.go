//go:build linux

package loop

import (
	"math"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// epollWaitCall is one epoll_wait the loop made: the timeout it asked for, and
// whether a signal cut it short.
type epollWaitCall struct {
	msec  int
	eintr bool
}

// recordWaits records every epoll_wait, through the sys.EpollWait seam, for a
// loop that the test goroutine drives with DispatchOnce (so no lock is needed).
// before, if not nil, runs just before each real call. Restored when the test
// ends.
func recordWaits(t *testing.T, before func(msec int)) *[]epollWaitCall {
	t.Helper()
	var waits []epollWaitCall
	realWait := sys.EpollWait
	t.Cleanup(sys.Swap(&sys.EpollWait, func(epfd int, ev []unix.EpollEvent, msec int) (int, error) {
		if before != nil {
			before(msec)
		}
		n, err := realWait(epfd, ev, msec)
		waits = append(waits, epollWaitCall{msec: msec, eintr: err == unix.EINTR})
		return n, err
	}))
	return &waits
}

// Row 16 of RELIABILITY.md, timers: 0.1 ms, 0, negative and 100-year timeouts must
// neither spin the loop nor overflow, checked at the sys.EpollWait seam, where the
// timeout the loop computed meets the kernel:
//   - 0.1 ms: every round either fires the timer or was cut short by a signal
//     (EINTR). A timeout rounded down to 0 ms would poll without blocking until
//     the timer is due: rounds that do nothing.
//   - 0 and negative (down to math.MinInt64): the round polls (0 ms) and fires all
//     three in scheduling order; then, with nothing left, a round waits its full
//     timeout.
//   - 100 years and time.Duration(math.MaxInt64): the loop asks for the longest
//     wait epoll_wait takes (math.MaxInt32 ms), and neither timer fires. A deadline
//     that overflowed would be in the past: due at once, and the wait 0 ms.
//
// The rest of the row: TestHundredThousandTimersFireInOrderAndNeverEarly (100k
// timers, order kept), TestTimersFireInDeadlineOrder and
// TestTimersWithEqualDeadlinesFireInSchedulingOrder (order), and the portable
// TestSubMillisecondTimerDoesNotSpinTheLoop, TestZeroAndNegativeTimersFireOnTheNextRound
// and TestHundredYearTimerDoesNotOverflow.
func TestTimerExtremesNeitherSpinNorOverflow(t *testing.T) {
	var l *Loop
	waits := recordWaits(t, func(msec int) {
		// Every round here has a timer pending, so no wait blocks for good, and
		// only the far-future timers ask for one longer than waitFor. A task
		// submitted just before such a wait starts ends it at once (Submit is
		// safe from the loop goroutine too): the asserts then say what was wrong
		// instead of the test hanging for 24 days.
		if msec < 0 || msec > int(waitFor/time.Millisecond) {
			if err := l.Submit(func() {}); err != nil {
				t.Errorf("Submit: %v", err)
			}
		}
	})
	l = newTestLoopWaiting(t, WaitBlock, nil)

	// round runs one round that may block, and returns the wait it made.
	round := func(t *testing.T) epollWaitCall {
		t.Helper()
		n := len(*waits)
		if err := l.DispatchOnce(-1); err != nil {
			t.Fatalf("DispatchOnce: %v", err)
		}
		if len(*waits) != n+1 {
			t.Fatalf("one round made %d epoll_waits, want 1", len(*waits)-n)
		}
		return (*waits)[n]
	}

	t.Run("0.1ms", func(t *testing.T) {
		for i := range 20 {
			fired := false
			l.AfterFunc(100*time.Microsecond, func() { fired = true })
			for rounds := 0; !fired; rounds++ {
				if rounds == 100 {
					t.Fatalf("timer %d: the 0.1 ms timer had not fired after %d rounds", i, rounds)
				}
				firedBefore := l.Stats().TimersFired
				w := round(t)
				if l.Stats().TimersFired == firedBefore && !w.eintr {
					t.Fatalf("timer %d: a round asked epoll_wait for %d ms, was not interrupted and fired nothing",
						i, w.msec)
				}
			}
		}
	})

	t.Run("zero and negative", func(t *testing.T) {
		var order []string
		l.AfterFunc(0, func() { order = append(order, "zero") })
		l.AfterFunc(-time.Hour, func() { order = append(order, "-1h") })
		l.AfterFunc(math.MinInt64, func() { order = append(order, "MinInt64") })
		if w := round(t); w.msec != 0 {
			t.Fatalf("with timers already due the loop asked epoll_wait for %d ms, want 0 (poll)", w.msec)
		}
		if want := []string{"zero", "-1h", "MinInt64"}; !slices.Equal(order, want) {
			t.Fatalf("the round fired %v, want %v", order, want)
		}
		n := len(*waits)
		if err := l.DispatchOnce(20 * time.Millisecond); err != nil {
			t.Fatalf("DispatchOnce: %v", err)
		}
		if w := (*waits)[n]; w.msec != 20 {
			t.Fatalf("after the due timers fired, a 20 ms round asked epoll_wait for %d ms, want 20", w.msec)
		}
	})

	t.Run("100 years", func(t *testing.T) {
		fired := 0
		century := l.AfterFunc(hundredYears, func() { fired++ })
		forever := l.AfterFunc(time.Duration(math.MaxInt64), func() { fired++ })
		tasksBefore := l.Stats().Tasks
		w := round(t)
		if w.msec != math.MaxInt32 {
			t.Fatalf("with only far-future timers the loop asked epoll_wait for %d ms, want %d (the longest it takes)",
				w.msec, math.MaxInt32)
		}
		if got := l.Stats().Tasks - tasksBefore; got != 1 {
			t.Fatalf("the round ran %d tasks, want the 1 that ended its long wait", got)
		}
		if fired != 0 || l.Stats().Timers != 2 {
			t.Fatalf("%d far-future timers fired, %d pending; want 0 fired, 2 pending", fired, l.Stats().Timers)
		}
		if !century.Stop() || !forever.Stop() {
			t.Fatal("Stop of a pending far-future timer = false")
		}
	})
}
