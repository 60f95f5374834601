//go:build linux

package loop

import (
	"context"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// eintrCounter counts the epoll_wait calls of the loop that fail with EINTR,
// through the sys.EpollWait seam; the calls themselves are real.
type eintrCounter struct {
	waits, eintrs atomic.Uint64
}

// countEINTRs installs the counter. Call it before the loop runs; it is restored
// when the test ends, after the cleanups of a loop made later.
func countEINTRs(t *testing.T) *eintrCounter {
	t.Helper()
	c := &eintrCounter{}
	realWait := sys.EpollWait
	t.Cleanup(sys.Swap(&sys.EpollWait, func(epfd int, ev []unix.EpollEvent, msec int) (int, error) {
		n, err := realWait(epfd, ev, msec)
		c.waits.Inc()
		if err == unix.EINTR {
			c.eintrs.Inc()
		}
		return n, err
	}))
	return c
}

// startSignalStorm sends SIGURG to the process in bursts until stop is called, and
// stop waits for the sender to end. Half the signals are process-directed (the
// kernel hands them to whichever thread it likes, usually the main one); the
// other half go to thread tid with tgkill, so that the thread blocked in
// epoll_wait is the one interrupted. Go's runtime uses SIGURG for goroutine
// preemption and ignores the ones it did not ask for.
func startSignalStorm(t *testing.T, tid int) (stop func() (sent int)) {
	t.Helper()
	pid := os.Getpid()
	quit := make(chan struct{})
	done := make(chan int)
	go func() {
		sent := 0
		for {
			select {
			case <-quit:
				done <- sent
				return
			default:
			}
			for range 32 {
				syscall.Kill(pid, syscall.SIGURG)
				unix.Tgkill(pid, tid, unix.SIGURG)
			}
			sent += 64
			runtime.Gosched() // a burst, then let the loop's thread have a core
		}
	}()
	stopped := false
	sent := 0
	stop = func() int {
		if !stopped {
			stopped = true
			close(quit)
			sent = <-done
		}
		return sent
	}
	t.Cleanup(func() { stop() })
	return stop
}

// Row 17 of RELIABILITY.md, EINTR: with CPU profiling on (SIGPROF) and bursts of
// SIGURG hitting the process and the loop's thread, 50 timers of 1 to 100 ms must
// all fire, none before its deadline and none more than a second after it, and
// Run must return nil after Stop. The loop's rounds stay bounded: a round ends
// because a timer was due, a task was queued, a wake came or a signal cut the wait
// short (EINTR, counted at the sys.EpollWait seam), so more rounds than all of
// those together is a wait that spins, and fewer rounds than EINTRs is a wait
// retried without the loop recomputing its timeout. A wait restarted with its
// full timeout after each EINTR would also never end while the storm lasts: the
// last timer, 51 ms after the others, would be late or never fire.
func TestSignalStormDoesNotBreakWaitsOrTimers(t *testing.T) {
	waits := countEINTRs(t)
	l := newTestLoopWaiting(t, WaitBlock, nil)
	result := startRun(t, l, context.Background())
	var tid int
	submitAndWait(t, l, func() { tid = unix.Gettid() }) // Run locked the loop to this thread

	stopProfile := startCPUProfile(t)
	stopStorm := startSignalStorm(t, tid)

	sent := fireTimersDuring(t, l, result, stopStorm, stopProfile)
	st := l.Stats()
	eintrs := waits.eintrs.Load()
	t.Logf("%d signals sent; %d rounds, %d epoll_waits, %d of them EINTR; %d timers fired, %d tasks, %d wake writes",
		sent, st.Rounds, waits.waits.Load(), eintrs, st.TimersFired, st.Tasks, st.WakeWrites)
	if eintrs == 0 {
		t.Fatal("no epoll_wait returned EINTR: the storm never interrupted a wait, so the test proved nothing")
	}
	// The poller hands every EINTR back (the package doc of poller): a round ends
	// on each, and the next recomputes its timeout. A Wait that retried inside
	// with the timeout it was given would hide them, and wait too long.
	if eintrs > st.Rounds {
		t.Fatalf("%d EINTRs from epoll_wait but only %d rounds: a wait was retried without the loop recomputing its timeout",
			eintrs, st.Rounds)
	}
	// Each round needs a reason; the 1 is slack for the round Stop ends.
	if bound := st.TimersFired + st.Tasks + st.WakeWrites + eintrs + 1; st.Rounds > bound {
		t.Fatalf("%d rounds, but only %d timers fired, %d tasks ran, %d wakes and %d EINTRs: the wait spins",
			st.Rounds, st.TimersFired, st.Tasks, st.WakeWrites, eintrs)
	}
}

// startCPUProfile turns CPU profiling on (its SIGPROF joins the storm) and
// returns the function that turns it off, once; it also runs when the test ends.
func startCPUProfile(t *testing.T) (stop func()) {
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		t.Logf("CPU profiling is already on (%v): its SIGPROF is there anyway", err)
		return func() {}
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			pprof.StopCPUProfile()
		}
	}
	t.Cleanup(stop)
	return stop
}

// fireTimersDuring schedules 50 timers of 1 to 49 ms and one of 100 ms on the
// running loop l, waits for all of them, ends the storm and the profile, stops
// the loop, and fails the test if Run failed or a timer fired early or over a
// second late. It returns how many signals the storm sent.
func fireTimersDuring(t *testing.T, l *Loop, result <-chan error, stopStorm func() int, stopProfile func()) (sent int) {
	t.Helper()
	const timers = 50
	var scheduled, firedAt [timers]time.Time // loop goroutine only until allFired
	var delay [timers]time.Duration
	fired := 0
	allFired := make(chan struct{})
	submitAndWait(t, l, func() {
		for i := range timers {
			// 1, 2, ..., 49 ms, then 100 ms: the last wait is a long one, which a
			// wait restarted in full after each EINTR never finishes.
			delay[i] = time.Duration(1+i) * time.Millisecond
			if i == timers-1 {
				delay[i] = 100 * time.Millisecond
			}
			scheduled[i] = time.Now()
			l.AfterFunc(delay[i], func() {
				firedAt[i] = time.Now()
				if fired++; fired == timers {
					close(allFired)
				}
			})
		}
	})
	testutil.Recv(t, allFired, waitFor, "all 50 timers to fire during the signal storm")
	sent = stopStorm()
	stopProfile()
	l.Stop()
	if err := testutil.Recv(t, result, waitFor, "Run to return after Stop"); err != nil {
		t.Fatalf("Run during a signal storm = %v, want nil", err)
	}

	for i := range timers {
		late := firedAt[i].Sub(scheduled[i]) - delay[i]
		if late < 0 {
			t.Errorf("the %v timer fired %v early", delay[i], -late)
		}
		if late > time.Second {
			t.Errorf("the %v timer fired %v late", delay[i], late)
		}
	}
	return sent
}

// Row 17 for a parked loop: the Go runtime, not the loop, waits in epoll_wait
// then, and retries it on EINTR itself; the storm must not make a parked loop's
// timers early or late, nor its Run fail.
func TestSignalStormDoesNotBreakAParkedLoopsTimers(t *testing.T) {
	l := newTestLoop(t, nil)
	result := startRun(t, l, context.Background())
	stopProfile := startCPUProfile(t)
	stopStorm := startSignalStorm(t, os.Getpid()) // no thread of its own: signal the process
	t.Logf("%d signals sent", fireTimersDuring(t, l, result, stopStorm, stopProfile))
}

// Row 17 of RELIABILITY.md, EINTR, the remaining timeout: a fake sys.EpollWait
// lets the first waits block for half their timeout and then fail with EINTR, as
// a signal arriving halfway would. Each wait after an interrupted one must ask
// only for what is left until the timer's deadline, never its full timeout again,
// and the timer fires at its deadline: about T, not the N×T that N restarted waits
// would take.
func TestEINTRInWaitRecomputesTheRemainingTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	const interrupts = 6 // halving 200 ms six times leaves 3 ms
	l := newTestLoopWaiting(t, WaitBlock, nil)

	type wait struct {
		msec       int
		start, end time.Time
		err        error
	}
	var waits []wait // the test goroutine drives the loop, so only it touches this
	interrupted := 0
	realWait := sys.EpollWait
	t.Cleanup(sys.Swap(&sys.EpollWait, func(epfd int, ev []unix.EpollEvent, msec int) (int, error) {
		w := wait{msec: msec, start: time.Now()}
		var n int
		if interrupted < interrupts && msec > 1 {
			// A signal halfway through: the kernel has slept for half the timeout.
			n, w.err = realWait(epfd, ev, msec/2)
			if n == 0 && w.err == nil {
				n, w.err = -1, unix.EINTR
				interrupted++
			}
		} else {
			n, w.err = realWait(epfd, ev, msec)
		}
		w.end = time.Now()
		waits = append(waits, w)
		return n, w.err
	}))

	fired := false
	var firedAfter time.Duration
	start := time.Now()
	l.AfterFunc(timeout, func() { firedAfter, fired = time.Since(start), true })
	// The deadline is no later than this plus timeout; every wait must fit in it.
	scheduled := time.Now()
	deadline := scheduled.Add(timeout)

	for rounds := 0; !fired; rounds++ {
		if rounds > 2*interrupts+10 {
			t.Fatalf("the timer had not fired after %d rounds: waits %+v", rounds, waits)
		}
		if err := l.DispatchOnce(-1); err != nil {
			t.Fatalf("DispatchOnce after an EINTR = %v, want nil", err)
		}
	}
	if interrupted < 2 {
		t.Fatalf("only %d waits were interrupted (waits %+v): the test proved nothing", interrupted, waits)
	}
	prevEnd := scheduled
	for k, w := range waits {
		// The loop computed this timeout after the previous wait ended (the first
		// one after the timer was scheduled), so it is at most what was left of
		// the deadline then, rounded up to a millisecond.
		left := deadline.Sub(prevEnd)
		prevEnd = w.end
		most := int((left + time.Millisecond - 1) / time.Millisecond)
		if w.msec > most {
			t.Fatalf("wait %d asked for %d ms, but only %v were left: the timeout was not recomputed after an EINTR (waits %+v)",
				k, w.msec, left, waits)
		}
	}
	if firedAfter < timeout {
		t.Fatalf("the %v timer fired after %v: early", timeout, firedAfter)
	}
	t.Logf("%d waits, %d interrupted; the %v timer fired after %v", len(waits), interrupted, timeout, firedAfter)
}
