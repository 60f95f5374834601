package loop

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/poller"
)

func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// waitFor bounds every wait for an event in these tests. It is generous because
// the race detector on two cores is slow; a passing test never waits this long.
const waitFor = 5 * time.Second

// newTestLoop returns an unpinned loop (which parks when it waits) that is
// Closed when the test ends. OnError fails the test unless onError is given.
func newTestLoop(t testing.TB, onError func(Target, error)) *Loop {
	t.Helper()
	return newTestLoopWaiting(t, WaitAuto, onError)
}

// newTestLoopWaiting is newTestLoop with the given WaitMode: the tests that read
// the blocking wait's timeouts through the sys.EpollWait seam use WaitBlock.
func newTestLoopWaiting(t testing.TB, wait WaitMode, onError func(Target, error)) *Loop {
	t.Helper()
	if onError == nil {
		onError = func(tg Target, err error) { t.Errorf("unexpected OnError(%v, %v)", tg, err) }
	}
	l, err := New(Config{CPU: NoPin, OnError: onError, Wait: wait})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// startRun runs l.Run(ctx) in a goroutine of its own and returns the channel that
// receives Run's result. When the test ends, the loop is stopped and the cleanup
// waits (bounded) for Run to return.
func startRun(t testing.TB, l *Loop, ctx context.Context) <-chan error {
	t.Helper()
	result := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		result <- l.Run(ctx)
	}()
	t.Cleanup(func() {
		l.Stop()
		select {
		case <-exited:
		case <-time.After(waitFor):
			t.Errorf("Run did not return within %v of Stop", waitFor)
		}
	})
	return result
}

// submitAndWait runs f on the loop goroutine and waits for it to finish.
func submitAndWait(t testing.TB, l *Loop, f func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Submit(func() { f(); close(done) }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	testutil.Recv(t, done, waitFor, "a submitted task")
}

// socketpair returns a connected, non-blocking, close-on-exec pair of Unix stream
// sockets. Closing them is the caller's business (the loop closes released ones).
func socketpair(t testing.TB) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatalf("set non-blocking: %v", err)
		}
	}
	return fds[0], fds[1]
}

// closeAtEnd closes fd when the test ends. Only for fds the loop never closes.
func closeAtEnd(t testing.TB, fd int) {
	t.Cleanup(func() {
		if err := unix.Close(fd); err != nil {
			t.Errorf("close(%d): %v", fd, err)
		}
	})
}

func mustWrite(t testing.TB, fd int, s string) {
	t.Helper()
	if n, err := unix.Write(fd, []byte(s)); err != nil || n != len(s) {
		t.Fatalf("write(%d): %d, %v", fd, n, err)
	}
}

// peerSeesClose reports whether the socket at peer's other end has been closed
// (every fd of it): reading peer returns end-of-file, or ECONNRESET when the closed
// end still had unread data. peer itself must have nothing queued for reading.
func peerSeesClose(t testing.TB, peer int) bool {
	t.Helper()
	var buf [16]byte
	n, err := unix.Read(peer, buf[:])
	switch {
	case err == unix.EAGAIN:
		return false
	case err == unix.ECONNRESET, err == nil && n == 0:
		return true
	default:
		t.Fatalf("read(%d): %d, %v", peer, n, err)
		return false
	}
}

// fdOpen reports whether fd is an open file descriptor.
func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// recTarget records the events it gets. Loop goroutine only.
type recTarget struct {
	fd     int
	events []poller.Event
	handle func(ev poller.Event) // optional, runs after recording
}

func (r *recTarget) Fd() int { return r.fd }

func (r *recTarget) HandleEvent(ev poller.Event) {
	r.events = append(r.events, ev)
	if r.handle != nil {
		r.handle(ev)
	}
}

// filterTarget is a recTarget with a Filter method.
type filterTarget struct {
	recTarget
	filterCalls int
	filter      func(calls int) poller.Interest
}

func (f *filterTarget) Filter() poller.Interest {
	f.filterCalls++
	return f.filter(f.filterCalls)
}

// finalTarget is a recTarget with a Finalize method.
type finalTarget struct {
	recTarget
	finalized []error
	finalize  func(err error) // optional
}

func (f *finalTarget) Finalize(err error) {
	f.finalized = append(f.finalized, err)
	if f.finalize != nil {
		f.finalize(err)
	}
}

// dispatchUntil runs rounds until cond holds, failing the test after waitFor.
func dispatchUntil(t testing.TB, l *Loop, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		}
		if err := l.DispatchOnce(10 * time.Millisecond); err != nil {
			t.Fatalf("DispatchOnce: %v", err)
		}
	}
}

// dispatchRounds runs n rounds that do not block.
func dispatchRounds(t testing.TB, l *Loop, n int) {
	t.Helper()
	for range n {
		if err := l.DispatchOnce(0); err != nil {
			t.Fatalf("DispatchOnce: %v", err)
		}
	}
}
