//go:build linux

package poller

import (
	"os"
	"runtime"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// Row 17 of RELIABILITY.md, EINTR, the poller's half with a real signal (the
// seam only watches): SIGURG sent with tgkill to the thread blocked in a
// Wait(-1), with nothing registered and no Wake, must make that Wait return
// (0, nil), so that the caller can recompute its timeout. A Wait that retried
// EINTR inside would block for good; after a bound the sender ends it with a Wake,
// and the test fails.
func TestWaitInterruptedByRealSignalReturnsZeroNil(t *testing.T) {
	p := newEpoll(t)
	var eintr atomic.Bool
	entered := make(chan struct{}, 1)
	realWait := sys.EpollWait
	defer sys.Swap(&sys.EpollWait, func(epfd int, ev []unix.EpollEvent, msec int) (int, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		n, err := realWait(epfd, ev, msec)
		if err == unix.EINTR {
			eintr.Store(true)
		}
		return n, err
	})()

	// The signal must reach this thread, the one in epoll_wait.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, tid := os.Getpid(), unix.Gettid()
	returned := make(chan struct{})
	rescued := make(chan bool, 1)
	go func() {
		select {
		case <-entered:
		case <-time.After(eventually):
		}
		deadline := time.Now().Add(eventually)
		for {
			select {
			case <-returned:
				rescued <- false
				return
			default:
			}
			if time.Now().After(deadline) {
				p.Wake()
				rescued <- true
				return
			}
			// A signal that lands before the thread enters epoll_wait only runs
			// the handler; keep sending until one interrupts the wait.
			unix.Tgkill(pid, tid, unix.SIGURG)
			runtime.Gosched()
		}
	}()
	n, err := p.Wait(make([]Event, 4), -1)
	close(returned)
	if testutil.Recv(t, rescued, 2*eventually, "the signal sender to end") {
		t.Fatalf("Wait(-1) kept blocking through SIGURGs for %v; only a Wake ended it: EINTR was retried inside", eventually)
	}
	if n != 0 || err != nil {
		t.Fatalf("Wait(-1) interrupted by a signal = (%d, %v), want (0, nil)", n, err)
	}
	if !eintr.Load() {
		t.Fatal("Wait returned, but epoll_wait never failed with EINTR")
	}
}
