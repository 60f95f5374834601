package loop

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

func TestSubmitKeepsPerGoroutineOrderFrom64Goroutines(t *testing.T) {
	l := newTestLoop(t, nil)
	startRun(t, l, context.Background())

	const goroutines, perGoroutine = 64, 1000
	const total = goroutines * perGoroutine
	next := make([]int, goroutines) // loop goroutine only: the number each goroutine's next task must carry
	outOfOrder := 0                 // loop goroutine only
	var ran atomic.Int64
	allRan := make(chan struct{})

	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range perGoroutine {
				err := l.Submit(func() {
					if next[g] != i {
						outOfOrder++
					}
					next[g] = i + 1
					if ran.Inc() == total {
						close(allRan)
					}
				})
				if err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	testutil.Recv(t, allRan, waitFor, "all submitted tasks to run")

	// close(allRan) ran on the loop goroutine after its last write to next and
	// outOfOrder, so reading them here is ordered after those writes.
	if outOfOrder != 0 {
		t.Errorf("%d tasks ran out of their goroutine's Submit order", outOfOrder)
	}
	for g, n := range next {
		if n != perGoroutine {
			t.Errorf("goroutine %d: %d tasks ran, want %d", g, n, perGoroutine)
		}
	}
	testutil.Eventually(t, waitFor, func() bool { return l.Stats().Tasks >= total }, "Stats().Tasks to reach %d", total)
	if got := l.Stats().Tasks; got != total {
		t.Errorf("Stats().Tasks = %d, want exactly %d", got, total)
	}
}

func TestSubmitAfterStopReturnsErrClosed(t *testing.T) {
	l := newTestLoop(t, nil)
	l.Stop()
	if err := l.Submit(func() { t.Error("task submitted after Stop ran") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Stop = %v, want ErrClosed", err)
	}
}

func TestSubmitAfterCloseReturnsErrClosed(t *testing.T) {
	l := newTestLoop(t, nil)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Submit(func() { t.Error("task submitted after Close ran") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
}

func TestSubmitNilTaskReturnsError(t *testing.T) {
	l := newTestLoop(t, nil)
	if err := l.Submit(nil); err == nil {
		t.Fatal("Submit(nil) = nil, want an error")
	}
	// The nil task must not have been queued: a round runs no task.
	dispatchRounds(t, l, 1)
	if got := l.Stats().Tasks; got != 0 {
		t.Fatalf("Stats().Tasks = %d after Submit(nil), want 0", got)
	}
}

func TestSubmitFromTaskRunsNextRound(t *testing.T) {
	l := newTestLoop(t, nil)
	var order []string
	l.Submit(func() {
		order = append(order, "outer")
		l.Submit(func() { order = append(order, "inner") })
	})
	l.Submit(func() { order = append(order, "second") })
	dispatchRounds(t, l, 1)
	if len(order) != 2 || order[0] != "outer" || order[1] != "second" {
		t.Fatalf("after round 1: %v, want [outer second]", order)
	}
	// The inner task is queued, so the next round must not block for the timeout.
	if err := l.DispatchOnce(waitFor); err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 || order[2] != "inner" {
		t.Fatalf("after round 2: %v, want [outer second inner]", order)
	}
}

// A Submit that arrives just as the loop goes back to sleep must still wake it.
// Each round trip below catches the loop either still finishing the previous task's
// round or already blocked in Wait with the previous wake drained. Row 10 of
// RELIABILITY.md in full is TestWakeupStormOfAMillionSubmitsCoalescesAndLosesNoTask.
func TestSubmitWakeAfterDrainedWakeIsNeverLost(t *testing.T) {
	l := newTestLoop(t, nil)
	startRun(t, l, context.Background())
	ran := make(chan int, 1)
	const rounds = 3000
	for i := range rounds {
		if err := l.Submit(func() { ran <- i }); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
		if got := testutil.Recv(t, ran, waitFor, "the task submitted to a sleeping loop"); got != i {
			t.Fatalf("task %d ran, want %d", got, i)
		}
	}
	if w := l.Stats().WakeWrites; w == 0 {
		t.Fatal("Stats().WakeWrites = 0: the loop was never asleep, so the test proved nothing")
	}
}

// Wakes coalesce: while the loop is awake, Submit writes nothing to the kernel, and
// a burst that finds it asleep costs one eventfd write. A burst of 10,000 Submits
// from 8 goroutines must therefore cost far fewer wake writes than Submits. The
// bound of one write per 4 Submits leaves a wide margin for a loop that keeps
// dozing off on two busy cores; without coalescing every Submit writes. Row 10 of
// RELIABILITY.md in full (a million Submits from 64 goroutines, writes counted at
// the seam) is TestWakeupStormOfAMillionSubmitsCoalescesAndLosesNoTask.
func TestSubmitBurstCoalescesWakes(t *testing.T) {
	l := newTestLoop(t, nil)
	startRun(t, l, context.Background())
	submitAndWait(t, l, func() {}) // the loop is running, and asleep again soon
	testutil.Eventually(t, waitFor, func() bool { return l.Stats().Tasks == 1 }, "the first task to be counted")
	before := l.Stats()

	const goroutines, perGoroutine = 8, 1250
	const total = goroutines * perGoroutine
	var ran atomic.Int64
	allRan := make(chan struct{})
	task := func() {
		if ran.Inc() == total {
			close(allRan)
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range perGoroutine {
				if err := l.Submit(task); err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	testutil.Recv(t, allRan, waitFor, "all 10,000 tasks to run")
	testutil.Eventually(t, waitFor, func() bool { return l.Stats().Tasks == before.Tasks+total },
		"Stats().Tasks to count the 10,000 tasks (it is %d)", l.Stats().Tasks-before.Tasks)

	after := l.Stats()
	writes := after.WakeWrites - before.WakeWrites
	t.Logf("%d Submits: %d wake writes, %d rounds", total, writes, after.Rounds-before.Rounds)
	if writes >= total/4 {
		t.Fatalf("%d wake writes for %d Submits: wakes are not coalesced", writes, total)
	}
}

func TestTasksSubmittedBeforeStopHaveRunWhenRunReturns(t *testing.T) {
	l := newTestLoop(t, nil)
	result := startRun(t, l, context.Background())
	submitAndWait(t, l, func() {})

	const n = 20_000
	var ran atomic.Int64
	for range n {
		if err := l.Submit(func() { ran.Inc() }); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	l.Stop()
	if err := testutil.Recv(t, result, waitFor, "Run to return after Stop"); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if got := ran.Load(); got != n {
		t.Fatalf("%d of %d tasks submitted before Stop had run when Run returned", got, n)
	}
}

func TestCloseRunsTasksQueuedBeforeIt(t *testing.T) {
	l := newTestLoop(t, nil)
	ran := 0
	for range 3 {
		l.Submit(func() { ran++ })
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if ran != 3 {
		t.Fatalf("%d of 3 queued tasks ran by Close, want 3", ran)
	}
}
