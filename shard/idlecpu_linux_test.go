package shard

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/loop"
)

// An engine with nothing to do must cost nothing: its loops wait (parked in the
// Go runtime's poller, or blocked in epoll_wait) without waking. The whole test
// process may use under 10 ms of CPU in 10 s of an idle engine with 2 loops and
// a listener; a loop that woke every millisecond would use several times that.
func TestIdleEngineWithTwoLoopsCostsNoCPU(t *testing.T) {
	for _, wait := range []struct {
		name string
		opts Options
	}{
		{"parked", Options{Loops: 2}},
		{"blocked", Options{Loops: 2, Wait: loop.WaitBlock}},
	} {
		t.Run(wait.name, func(t *testing.T) {
			_, addr := startEcho(t, wait.opts)
			roundTrip(t, dial(t, "tcp", addr), []byte("wake every loop once")) // then idle
			const window, budget = 10 * time.Second, 10 * time.Millisecond
			before := processCPU(t)
			time.Sleep(window) // the measurement window itself, not a wait for an event
			if used := processCPU(t) - before; used > budget {
				t.Fatalf("an idle engine with 2 loops used %v of CPU in %v, want under %v", used, window, budget)
			} else {
				t.Logf("CPU used in %v idle: %v", window, used)
			}
		})
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
