//go:build linux

// Linux only: these tests use the Linux-only helpers of helpers_test.go and fake
// getpeername through the syscall seam.

package transport_test

import (
	"errors"
	"testing"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// OnData offered again at the end of a round (after ResumeRead) is a callback of
// the conn like any other: a panic in it closes the conn with the panic, and an
// AsyncWrite afterwards gets its done with an error instead of waiting forever
// on a conn stuck half-inside a handler.
func TestPanicInOnDataOfferedAtRoundEndClosesTheConn(t *testing.T) {
	reported := make(chan error, 4)
	l := startLoop(t, func(_ loop.Target, err error) { reported <- err })
	h := newRecordingHandler()
	var calls atomic.Int64
	h.data = func(c *transport.Conn) {
		if calls.Inc() == 1 {
			c.PauseRead() // leave the bytes buffered
			return
		}
		panic("second OnData")
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	if _, err := cl.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	c := h.accept(t)
	testutil.Eventually(t, waitFor, func() bool { return calls.Load() == 1 }, "the first OnData")
	onLoop(t, l, func() { c.ResumeRead() }) // OnData is offered again at the round's end

	closed := h.waitClosed(t)
	var pe *loop.PanicError
	if !errors.As(closed.err, &pe) || pe.Value != "second OnData" {
		t.Fatalf("OnClose got %v, want the panic of the second OnData", closed.err)
	}
	if err := testutil.Recv(t, reported, waitFor, "the panic reported to OnError"); !errors.As(err, &pe) {
		t.Fatalf("OnError got %v, want the *loop.PanicError", err)
	}
	done := make(chan error, 1)
	c.AsyncWrite([]byte("late"), func(err error) { done <- err })
	if err := testutil.Recv(t, done, waitFor, "the AsyncWrite callback"); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("AsyncWrite on the closed conn: done(%v), want ErrClosed", err)
	}
	expectPeerClosed(t, cl, "the client of the conn whose OnData panicked")
}

// The connect path's getpeername goes through the seam: when it fails with
// anything but "not connected yet", the failure reaches OnClose, never OnOpen.
func TestConnectWhoseGetpeernameFailsReportsThroughOnClose(t *testing.T) {
	l := startLoop(t, nil)
	ln := serveEcho(t, l, "tcp", "127.0.0.1:0")
	real := sys.Getpeername
	t.Cleanup(sys.Swap(&sys.Getpeername, func(fd int) (unix.Sockaddr, error) {
		if _, err := real(fd); err != nil {
			return nil, err
		}
		return nil, unix.EINVAL // a connected socket, reported as failing
	}))
	h := newRecordingHandler()
	c, state, err := dialOnLoop(t, l, "tcp", ln.Addr().String(), h)
	if err != nil || state != transport.Connecting {
		t.Fatalf("Dial: state %v, err %v; want Connecting, nil", state, err)
	}
	closed := h.waitClosed(t)
	if closed.c != c || !errors.Is(closed.err, unix.EINVAL) {
		t.Fatalf("OnClose(%p, %v), want the dialled conn with EINVAL", closed.c, closed.err)
	}
	select {
	case <-h.opened:
		t.Fatal("OnOpen ran for a connect whose getpeername failed")
	default:
	}
}

// A loop goroutine may Dial onto another loop that is blocked: Dial hands the
// conn over with Submit and returns at once. (It used to wait for the other loop,
// so two loops dialling each other deadlocked.)
func TestDialOntoABlockedLoopReturnsAtOnce(t *testing.T) {
	here, there := startLoop(t, nil), startLoop(t, nil)
	ln := serveEcho(t, here, "tcp", "127.0.0.1:0")
	unblock := make(chan struct{})
	there.Submit(func() { <-unblock })
	h := newRecordingHandler()
	h.open = func(c *transport.Conn) { c.Write([]byte("ping")) }
	h.data = func(c *transport.Conn) {
		if c.Buffered() >= 4 {
			c.Close()
		}
	}
	var dialErr error
	var onThere bool
	onLoop(t, here, func() {
		var c *transport.Conn
		c, dialErr = transport.Dial(there, "tcp", ln.Addr().String(), h, transport.Config{})
		onThere = dialErr == nil && c.Loop() == there
	})
	close(unblock)
	if dialErr != nil || !onThere {
		t.Fatalf("Dial onto the other loop: %v (conn on that loop: %v)", dialErr, onThere)
	}
	h.accept(t)
	if closed := h.waitClosed(t); closed.err != nil {
		t.Fatalf("OnClose(%v), want an orderly close after the echo", closed.err)
	}
}
