//go:build linux

package loop

import (
	"context"
	"sync"
	"testing"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// wakeCounter counts the eventfd writes of the next poller created, through the
// internal/sys seam: sys.Eventfd records the eventfd's number, sys.WriteFile counts
// the writes to that number. Counting at the seam, not with the poller's own
// WakeWrites, checks that counter too.
type wakeCounter struct {
	fd     atomic.Int64 // the eventfd, -1 until one is created
	writes atomic.Uint64
}

// countWakeWrites installs the counter. Call it before New: the seam must be in
// place before the poller makes its eventfd and before any goroutine can Wake. It
// is restored when the test ends, after the cleanups of the loop made later (they
// run first), so no Wake can race with the restore.
func countWakeWrites(t *testing.T) *wakeCounter {
	t.Helper()
	c := &wakeCounter{}
	c.fd.Store(-1)
	realEventfd, realWrite := sys.Eventfd, sys.WriteFile
	t.Cleanup(sys.Swap(&sys.Eventfd, func(initval uint, flags int) (int, error) {
		fd, err := realEventfd(initval, flags)
		if err == nil {
			c.fd.Store(int64(fd))
		}
		return fd, err
	}))
	t.Cleanup(sys.Swap(&sys.WriteFile, func(fd int, b []byte) (int, error) {
		if int64(fd) == c.fd.Load() {
			c.writes.Inc()
		}
		return realWrite(fd, b)
	}))
	return c
}

// kickOnFailure makes a failed test end instead of hang: when a wake was lost,
// Stop's own wake may be lost too, Run never returns and Close waits for it
// forever. Registered after startRun, it runs before startRun's cleanup: it stops
// the loop and writes to the eventfd directly, past the poller's gate.
func kickOnFailure(t *testing.T, l *Loop, wakes *wakeCounter) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		l.Stop()
		one := [8]byte{1, 0, 0, 0, 0, 0, 0, 1} // non-zero in either byte order
		unix.Write(int(wakes.fd.Load()), one[:])
	})
}

// waitAsleep waits until the loop goroutine has declared itself asleep (it is in,
// or about to enter, a blocking Wait).
func waitAsleep(t *testing.T, l *Loop) {
	t.Helper()
	testutil.Eventually(t, waitFor, func() bool { return !l.awake.Load() }, "the loop to go to sleep")
}

// Row 10 of RELIABILITY.md, wakeup storms: a million Submits from 64 goroutines
// hit a loop that starts asleep. Wakes must coalesce (far fewer eventfd writes
// than Submits, counted at the sys.WriteFile seam), no task may be lost (each one
// is counted), and after the storm a Submit to the loop that has drained its last
// wake and gone back to sleep must still wake it, again and again.
//
// The storm is a full million under -race too: it takes about a second there.
func TestWakeupStormOfAMillionSubmitsCoalescesAndLosesNoTask(t *testing.T) {
	wakes := countWakeWrites(t)
	l := newTestLoop(t, nil)
	if wakes.fd.Load() < 0 {
		t.Fatal("New made no eventfd through sys.Eventfd: the seam counts nothing")
	}
	startRun(t, l, context.Background())
	kickOnFailure(t, l, wakes)
	submitAndWait(t, l, func() {})
	waitAsleep(t, l) // so the storm's first Submit must wake the loop

	const goroutines, perGoroutine = 64, 1_000_000 / 64 // 15,625 each
	const total = int64(goroutines * perGoroutine)
	before := l.Stats()
	writesBefore := wakes.writes.Load()

	var ran atomic.Int64
	allRan := make(chan struct{})
	task := func() { // one closure for every Submit: the storm allocates no tasks
		if ran.Inc() == total {
			close(allRan)
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			<-start
			for range perGoroutine {
				if err := l.Submit(task); err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	testutil.Recv(t, allRan, waitFor, "every task of the storm to run")
	testutil.Eventually(t, waitFor, func() bool { return l.Stats().Tasks >= before.Tasks+uint64(total) },
		"Stats().Tasks to count the storm's %d tasks", total)

	after := l.Stats()
	writes := wakes.writes.Load() - writesBefore
	rounds := after.Rounds - before.Rounds
	t.Logf("%d Submits from %d goroutines: %d eventfd writes, %d rounds", total, goroutines, writes, rounds)
	if got := ran.Load(); got != total {
		t.Fatalf("%d tasks ran, want exactly %d", got, total)
	}
	if got := after.Tasks - before.Tasks; got != uint64(total) {
		t.Fatalf("Stats().Tasks grew by %d, want exactly %d", got, total)
	}
	if writes == 0 {
		t.Fatal("no eventfd write: the storm never found the loop asleep, so the test proved nothing")
	}
	// A Submit writes only to a sleeping loop, and only the first since the last
	// drain: so a write needs a round in between. Without coalescing, every Submit
	// that finds the loop asleep writes; one write per hundred Submits is far above
	// what coalescing gives and far below what its absence gives.
	if writes > uint64(total)/100 {
		t.Fatalf("%d eventfd writes for %d Submits: wakes are not coalesced", writes, total)
	}
	if writes > rounds+1 {
		t.Fatalf("%d eventfd writes in %d rounds: a write went out while an earlier one was still undrained", writes, rounds)
	}
	if wakes.writes.Load() != after.WakeWrites {
		t.Fatalf("the seam counted %d eventfd writes, Stats().WakeWrites says %d", wakes.writes.Load(), after.WakeWrites)
	}

	// A wake after a drained one: each Submit below finds the loop asleep, with the
	// previous wake drained. A gate left shut by the storm would swallow the wake,
	// and the task would wait forever.
	const trips = 200
	writesBefore = wakes.writes.Load()
	done := make(chan int, 1)
	for i := range trips {
		waitAsleep(t, l)
		w := wakes.writes.Load()
		if err := l.Submit(func() { done <- i }); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
		if got := testutil.Recv(t, done, waitFor, "a task submitted to the sleeping loop"); got != i {
			t.Fatalf("task %d ran, want %d", got, i)
		}
		// Zero when something else woke the loop just before the Submit (a
		// signal, or a wake the previous trip left behind): the awake loop then
		// finds the task without a wake.
		if d := wakes.writes.Load() - w; d > 1 {
			t.Fatalf("one Submit to a sleeping loop made %d eventfd writes, want 1", d)
		}
	}
	if d := wakes.writes.Load() - writesBefore; d < trips/2 {
		t.Fatalf("%d Submits to a sleeping loop made only %d eventfd writes: the loop was not asleep", trips, d)
	}
}
