package shard

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// failingWait makes the next epoll_wait of any poller fail with EIO once armed.
func failingWait(t *testing.T) (arm func()) {
	var armed atomic.Bool
	real := sys.EpollWait
	t.Cleanup(sys.Swap(&sys.EpollWait, func(epfd int, events []unix.EpollEvent, msec int) (int, error) {
		if armed.CompareAndSwap(true, false) {
			return 0, unix.EIO
		}
		return real(epfd, events, msec)
	}))
	return func() { armed.Store(true) }
}

func TestALoopWhosePollerFailsStopsTheEngineAndRunReportsIt(t *testing.T) {
	arm := failingWait(t)
	e, _ := startEcho(t, Options{Loops: 1, ReusePort: true})
	runDone := make(chan error, 1)
	go func() { runDone <- e.Run(context.Background()) }()
	arm()
	e.Loops()[0].Submit(func() {}) // wake the loop into a failing wait
	err := testutil.Recv(t, runDone, 5*time.Second, "Run after the loop failed")
	if !errors.Is(err, unix.EIO) {
		t.Fatalf("Run returned %v, want the loop's EIO", err)
	}
	if _, err := e.Dial("tcp", "127.0.0.1:1", echo{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Dial after the engine stopped: %v", err)
	}
}

func TestALoopFailingDuringShutdownDoesNotHangIt(t *testing.T) {
	arm := failingWait(t)
	e := newEngine(t, Options{Loops: 1, ReusePort: true})
	// The handler never consumes its input, so the conn keeps the drain going.
	c := dial(t, "tcp", serve(t, e, &handlerFunc{}))
	c.Write([]byte("unread"))
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.BytesIn > 0 }, "never read")
	shut := make(chan error, 1)
	go func() { shut <- e.Shutdown(context.Background()) }() // no deadline: only the failure can end it
	testutil.Eventually(t, 5*time.Second, func() bool { return e.getState() == draining }, "Shutdown never began")
	arm()
	e.Loops()[0].Submit(func() {})
	testutil.Recv(t, shut, 5*time.Second, "Shutdown after the loop failed")
	if !errors.Is(e.runErr.Load(), unix.EIO) {
		t.Fatalf("the loop's failure was not recorded: %v", e.runErr.Load())
	}
}
