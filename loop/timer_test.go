package loop

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

const hundredYears = 100 * 365 * 24 * time.Hour

func TestTimersFireInDeadlineOrder(t *testing.T) {
	l := newTestLoop(t, nil)
	var order []string
	at := func(name string, d time.Duration) {
		l.AfterFunc(d, func() { order = append(order, name) })
	}
	at("30ms", 30*time.Millisecond)
	at("10ms", 10*time.Millisecond)
	at("zero-a", 0)
	at("20ms", 20*time.Millisecond)
	at("zero-b", 0)
	at("negative", -time.Millisecond) // counts as zero: due now, after zero-b
	at("zero-c", 0)
	dispatchUntil(t, l, func() bool { return len(order) == 7 }, "7 timers")
	want := []string{"zero-a", "zero-b", "negative", "zero-c", "10ms", "20ms", "30ms"}
	if !slices.Equal(order, want) {
		t.Fatalf("fired %v, want %v", order, want)
	}
}

// time.Duration(math.MaxInt64) is past any deadline the loop can represent, so
// every such timer is clamped to the same deadline: they differ only in scheduling
// order, which must decide. Running the timers as of the end of time fires them all.
func TestTimersWithEqualDeadlinesFireInSchedulingOrder(t *testing.T) {
	l := newTestLoop(t, nil)
	var order []int
	var stopped []Timer
	var wantSoon, wantLast []int
	for i := range 300 {
		d := time.Duration(math.MaxInt64)
		if i%3 == 0 {
			d = time.Hour // interleave earlier deadlines to shuffle the heap
		}
		tm := l.AfterFunc(d, func() { order = append(order, i) })
		switch {
		case i%7 == 0:
			stopped = append(stopped, tm) // removing from the middle reshapes the heap
		case d == time.Hour:
			wantSoon = append(wantSoon, i)
		default:
			wantLast = append(wantLast, i)
		}
	}
	for _, tm := range stopped {
		if !tm.Stop() {
			t.Fatal("Stop of a pending timer = false")
		}
	}
	clamped := 0
	for _, tm := range l.timers {
		if tm.when == math.MaxInt64 {
			clamped++
		}
	}
	if clamped != len(wantLast) {
		t.Fatalf("%d timers have the clamped deadline, want %d", clamped, len(wantLast))
	}
	if fired := l.runTimers(math.MaxInt64); fired != len(wantSoon)+len(wantLast) {
		t.Fatalf("runTimers fired %d, want %d", fired, len(wantSoon)+len(wantLast))
	}
	if want := append(wantSoon, wantLast...); !slices.Equal(order, want) {
		t.Fatalf("fired\n%v\nwant\n%v", order, want)
	}
}

func TestTimerNeverFiresEarly(t *testing.T) {
	l := newTestLoop(t, nil)
	for _, d := range []time.Duration{100 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		for range 3 {
			var elapsed time.Duration
			fired := false
			start := time.Now()
			l.AfterFunc(d, func() { elapsed, fired = time.Since(start), true })
			dispatchUntil(t, l, func() bool { return fired }, fmt.Sprintf("the %v timer", d))
			if elapsed < d {
				t.Errorf("%v timer fired after %v: early", d, elapsed)
			}
		}
	}
}

// Row 16 of RELIABILITY.md, the 0.1 ms timer, on every backend (the Linux test
// TestTimerExtremesNeitherSpinNorOverflow checks it at the epoll_wait seam): epoll
// counts its timeout in milliseconds, so a 0.1 ms timer must round the wait up to
// 1 ms, not down to 0, which would poll without blocking about a hundred times.
func TestSubMillisecondTimerDoesNotSpinTheLoop(t *testing.T) {
	l := newTestLoop(t, nil)
	fired := false
	l.AfterFunc(100*time.Microsecond, func() { fired = true })
	rounds := 0
	for !fired && rounds < 1000 {
		if err := l.DispatchOnce(waitFor); err != nil {
			t.Fatal(err)
		}
		rounds++
	}
	if !fired {
		t.Fatalf("0.1 ms timer did not fire in %d rounds", rounds)
	}
	if st := l.Stats(); rounds > 5 || st.Rounds != uint64(rounds) {
		t.Fatalf("0.1 ms timer took %d rounds (Stats().Rounds %d), want a handful", rounds, st.Rounds)
	}
}

// Row 16 of RELIABILITY.md, zero and negative timeouts, on every backend: timers
// of 0, -1 h and math.MinInt64 are due at once, so the next round does not block
// and fires all three, in scheduling order.
func TestZeroAndNegativeTimersFireOnTheNextRound(t *testing.T) {
	l := newTestLoop(t, nil)
	var fired []string
	l.AfterFunc(0, func() { fired = append(fired, "zero") })
	l.AfterFunc(-time.Hour, func() { fired = append(fired, "negative") })
	l.AfterFunc(math.MinInt64, func() { fired = append(fired, "most negative") })
	start := time.Now()
	// The round must not block for its timeout: the timers are already due.
	if err := l.DispatchOnce(waitFor); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > waitFor/2 {
		t.Fatalf("round with due timers blocked for %v", took)
	}
	if want := []string{"zero", "negative", "most negative"}; !slices.Equal(fired, want) {
		t.Fatalf("fired %v in the next round, want %v", fired, want)
	}
}

// Row 16 of RELIABILITY.md, the 100-year timeout, on every backend: a deadline
// of now plus 100 years, or plus time.Duration(math.MaxInt64), must not wrap into
// the past, where it would fire at once.
func TestHundredYearTimerDoesNotOverflow(t *testing.T) {
	l := newTestLoop(t, nil)
	fired := 0
	century := l.AfterFunc(hundredYears, func() { fired++ })
	forever := l.AfterFunc(time.Duration(math.MaxInt64), func() { fired++ })
	// A deadline that wrapped negative would be due at once.
	start := time.Now()
	for time.Since(start) < 5*time.Millisecond {
		if err := l.DispatchOnce(time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if fired != 0 {
		t.Fatalf("%d far-future timers fired", fired)
	}
	if got := l.Stats().Timers; got != 2 {
		t.Fatalf("Stats().Timers = %d, want 2 pending", got)
	}
	if !century.Stop() || !forever.Stop() {
		t.Fatal("Stop of a pending far-future timer = false")
	}
	if got := l.Stats().Timers; got != 0 {
		t.Fatalf("Stats().Timers = %d after Stop, want 0", got)
	}
}

func TestHundredYearTimerDoesNotBlockSubmit(t *testing.T) {
	l := newTestLoop(t, nil)
	startRun(t, l, context.Background())
	submitAndWait(t, l, func() { l.AfterFunc(hundredYears, func() { t.Error("100-year timer fired") }) })
	submitAndWait(t, l, func() {}) // the loop, asleep until 2125, still wakes for a task
}

// Row 16 of RELIABILITY.md, 100k timers: 100,000 timers spread over 20 ms all
// fire, none before its deadline, in (deadline, scheduling) order, and the heap
// ends empty.
func TestHundredThousandTimersFireInOrderAndNeverEarly(t *testing.T) {
	l := newTestLoop(t, nil)
	const n = 100_000
	type deadline struct {
		when int64
		seq  uint64
	}
	scheduled := make([]deadline, n)
	var fired []int
	early := 0
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		d := time.Duration(rng.IntN(20_000)) * time.Microsecond
		tm := l.AfterFunc(d, func() {
			if l.monotonic() < scheduled[i].when {
				early++
			}
			fired = append(fired, i)
		})
		scheduled[i] = deadline{tm.t.when, tm.t.seq}
	}
	if got := l.Stats().Timers; got != n {
		t.Fatalf("Stats().Timers = %d, want %d", got, n)
	}
	dispatchUntil(t, l, func() bool { return len(fired) >= n }, "100k timers")
	if len(fired) != n || early != 0 {
		t.Fatalf("%d timers fired (want %d), %d early", len(fired), n, early)
	}
	for k := 1; k < n; k++ {
		a, b := scheduled[fired[k-1]], scheduled[fired[k]]
		if a.when > b.when || (a.when == b.when && a.seq > b.seq) {
			t.Fatalf("timer %d (deadline %d) fired after timer %d (deadline %d)", fired[k], b.when, fired[k-1], a.when)
		}
	}
	if st := l.Stats(); st.Timers != 0 || st.TimersFired != n {
		t.Fatalf("Stats: Timers %d, TimersFired %d; want 0, %d", st.Timers, st.TimersFired, n)
	}
}

func TestTimerStopBeforeFiringPreventsIt(t *testing.T) {
	l := newTestLoop(t, nil)
	tm := l.AfterFunc(time.Millisecond, func() { t.Error("stopped timer fired") })
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer = false")
	}
	if tm.Stop() {
		t.Fatal("second Stop = true")
	}
	start := time.Now()
	for time.Since(start) < 5*time.Millisecond {
		if err := l.DispatchOnce(time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Stats().Timers; got != 0 {
		t.Fatalf("Stats().Timers = %d, want 0", got)
	}
	var zero Timer
	if zero.Stop() || zero.Reset(time.Second) {
		t.Fatal("zero Timer's Stop or Reset = true")
	}
}

func TestTimerResetReschedules(t *testing.T) {
	l := newTestLoop(t, nil)
	fired := 0
	tm := l.AfterFunc(time.Hour, func() { fired++ })
	if !tm.Reset(0) {
		t.Fatal("Reset of a pending timer = false")
	}
	dispatchRounds(t, l, 1)
	if fired != 1 {
		t.Fatalf("reset timer fired %d times in the next round, want 1", fired)
	}
	if tm.Reset(0) {
		t.Fatal("Reset of a fired timer = true")
	}
	dispatchRounds(t, l, 2)
	if fired != 2 {
		t.Fatalf("timer re-armed by Reset fired %d times in all, want 2", fired)
	}
	tm.Reset(time.Hour)
	dispatchRounds(t, l, 2)
	if fired != 2 || l.Stats().Timers != 1 {
		t.Fatalf("after Reset(1h): fired %d, Stats().Timers %d; want 2, 1", fired, l.Stats().Timers)
	}
	tm.Stop()
}

func TestTimerResetAllocatesNothing(t *testing.T) {
	l := newTestLoop(t, nil)
	var others []Timer
	for i := range 100 {
		others = append(others, l.AfterFunc(time.Hour+time.Duration(i), func() {}))
	}
	tm := l.AfterFunc(time.Hour, func() {})
	i := 0
	reset := func() {
		i++
		tm.Reset(time.Hour + time.Duration(i%200)) // moves around among the others
	}
	if allocs := testing.AllocsPerRun(1000, reset); allocs != 0 {
		t.Fatalf("Reset before Run: %v allocations, want 0", allocs)
	}
	// Again on the loop goroutine, inside a round (a timer callback).
	var inLoop float64 = -1
	l.AfterFunc(0, func() { inLoop = testing.AllocsPerRun(1000, reset) })
	dispatchRounds(t, l, 1)
	if inLoop != 0 {
		t.Fatalf("Reset inside the loop: %v allocations, want 0", inLoop)
	}
	tm.Stop()
	for _, o := range others {
		o.Stop()
	}
}

func TestEveryFiresRepeatedlyUntilStoppedInItsOwnCallback(t *testing.T) {
	l := newTestLoop(t, nil)
	runs := 0
	var tm Timer
	var stopResult bool
	tm = l.Every(time.Millisecond, func() {
		if runs++; runs == 3 {
			stopResult = tm.Stop()
		}
	})
	dispatchUntil(t, l, func() bool { return runs >= 3 }, "3 runs of Every")
	if !stopResult {
		t.Error("Stop inside the Every callback = false, want true (later runs were pending)")
	}
	start := time.Now()
	for time.Since(start) < 10*time.Millisecond {
		if err := l.DispatchOnce(time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if runs != 3 {
		t.Fatalf("Every ran %d times, want 3: Stop in its callback did not end it", runs)
	}
	if got := l.Stats().Timers; got != 0 {
		t.Fatalf("Stats().Timers = %d, want 0", got)
	}
	if tm.Stop() {
		t.Fatal("Stop of a stopped Every = true")
	}
}

func TestEveryWithNonPositivePeriodPanics(t *testing.T) {
	l := newTestLoop(t, nil)
	for _, period := range []time.Duration{0, -time.Second} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Every(%v) did not panic", period)
				}
			}()
			l.Every(period, func() {})
		}()
	}
	if got := l.Stats().Timers; got != 0 {
		t.Fatalf("Stats().Timers = %d after the panics, want 0", got)
	}
}

func TestTimerStoppedByEarlierTimerInSameRoundDoesNotRun(t *testing.T) {
	l := newTestLoop(t, nil)
	var later Timer
	stopped := false
	l.AfterFunc(0, func() { stopped = later.Stop() })
	later = l.AfterFunc(0, func() { t.Error("timer stopped earlier in the round ran") })
	dispatchRounds(t, l, 1)
	if !stopped {
		t.Fatal("Stop of a timer due in the same round = false, want true")
	}
	dispatchRounds(t, l, 2)
	if st := l.Stats(); st.TimersFired != 1 || st.Timers != 0 {
		t.Fatalf("TimersFired %d, Timers %d; want 1, 0", st.TimersFired, st.Timers)
	}
}

func TestTimerResetByEarlierTimerInSameRoundRunsOnceLater(t *testing.T) {
	l := newTestLoop(t, nil)
	var later Timer
	runs := 0
	l.AfterFunc(0, func() { later.Reset(0) })
	later = l.AfterFunc(0, func() { runs++ })
	dispatchRounds(t, l, 1)
	if runs != 0 {
		t.Fatalf("timer reset earlier in the round ran %d times in that round, want 0", runs)
	}
	dispatchRounds(t, l, 2)
	if runs != 1 {
		t.Fatalf("reset timer ran %d times, want 1", runs)
	}
}

func TestStoppedEveryDueInSameRoundDoesNotRunOrRearm(t *testing.T) {
	l := newTestLoop(t, nil)
	var tick Timer
	stopped := false
	l.AfterFunc(0, func() { stopped = tick.Stop() })
	tick = l.Every(time.Millisecond, func() { t.Error("stopped Every ran") })
	// Run the timers as of one second from now, so that both are due in this batch.
	if fired := l.runTimers(l.monotonic() + int64(time.Second)); fired != 1 {
		t.Fatalf("runTimers fired %d, want 1", fired)
	}
	if !stopped {
		t.Fatal("Stop of an Every due in the same batch = false, want true")
	}
	if got := l.Stats().Timers; got != 0 {
		t.Fatalf("Stats().Timers = %d, want 0: the stopped Every re-armed", got)
	}
}

// runTimers takes the due timers off the heap before running any, so a zero-delay
// timer that re-arms itself runs once per round and the rest of the round (tasks,
// events) still happens.
func TestSelfRearmingZeroTimerDoesNotStarveTheLoop(t *testing.T) {
	l := newTestLoop(t, nil)
	runs := 0
	var tm Timer
	tm = l.AfterFunc(0, func() {
		if runs++; runs >= 1000 {
			return // bound the damage if it does starve the round
		}
		tm.Reset(0)
	})
	taskRan := false
	l.Submit(func() { taskRan = true })
	dispatchRounds(t, l, 1)
	if runs != 1 || !taskRan {
		t.Fatalf("one round: the re-arming timer ran %d times (want 1), task ran %v (want true)", runs, taskRan)
	}
	dispatchRounds(t, l, 5)
	if runs != 6 {
		t.Fatalf("after 6 rounds the timer ran %d times, want 6", runs)
	}
	tm.Stop()
}

func TestSelfRearmingZeroTimerDoesNotStarveRun(t *testing.T) {
	l := newTestLoop(t, nil)
	startRun(t, l, context.Background())
	var tm Timer
	submitAndWait(t, l, func() {
		var rearm func()
		rearm = func() { tm = l.AfterFunc(0, rearm) }
		rearm()
	})
	submitAndWait(t, l, func() { tm.Stop() })
	testutil.Eventually(t, waitFor, func() bool { return l.Stats().TimersFired > 0 }, "the re-arming timer to fire")
}

// Close drops the loop's pending timers. A Timer the caller still holds must then
// be inert: Stop and Reset on it must not index into the emptied heap.
func TestTimerStopAfterCloseDoesNotPanic(t *testing.T) {
	l := newTestLoop(t, nil)
	first := l.AfterFunc(time.Hour, func() {})
	second := l.AfterFunc(2*time.Hour, func() {})
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, f := range map[string]func(){
		"Stop":  func() { first.Stop() },
		"Reset": func() { second.Reset(time.Second) },
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s of a timer that was pending at Close panicked: %v", name, r)
				}
			}()
			f()
		}()
	}
}

func TestCloseLeavesNoTimerPendingInStats(t *testing.T) {
	l := newTestLoop(t, nil)
	l.AfterFunc(time.Hour, func() {})
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := l.Stats().Timers; got != 0 {
		t.Fatalf("Stats().Timers = %d after Close dropped every timer, want 0", got)
	}
}
