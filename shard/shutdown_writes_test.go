package shard

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// asyncCallbacks records AsyncWrite callbacks: which write, with what error, in the
// order they ran.
type asyncCallbacks struct {
	mu  sync.Mutex
	ran []asyncCallback
}

type asyncCallback struct {
	write int
	err   error
}

func (r *asyncCallbacks) done(write int) func(error) {
	return func(err error) {
		r.mu.Lock()
		r.ran = append(r.ran, asyncCallback{write, err})
		r.mu.Unlock()
	}
}

// succeeded counts the callbacks that ran with nil so far.
func (r *asyncCallbacks) succeeded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, cb := range r.ran {
		if cb.err == nil {
			n++
		}
	}
	return n
}

// check fails t unless every one of writes callbacks ran exactly once, in the
// order of the writes, the successful ones first, every failed one with
// wantErr. It returns how many succeeded.
func (r *asyncCallbacks) check(t *testing.T, writes int, wantErr error) int {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ran) != writes {
		t.Fatalf("%d AsyncWrite callbacks ran, want exactly %d (one per write)", len(r.ran), writes)
	}
	ok := 0
	for i, cb := range r.ran {
		switch {
		case cb.write != i:
			t.Fatalf("callback %d was for write %d: callbacks ran out of order or twice", i, cb.write)
		case cb.err == nil && ok != i:
			t.Fatalf("write %d succeeded after write %d had failed", i, ok)
		case cb.err == nil:
			ok++
		case !errors.Is(cb.err, wantErr):
			t.Fatalf("write %d failed with %v, want %v", i, cb.err, wantErr)
		}
	}
	return ok
}

// dialSmallWindow connects to addr with a 16 KiB receive buffer, set before the
// connect so the window is small from the start and the kernel does not grow it
// (an explicit SO_RCVBUF turns receive-buffer autotuning off).
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		rc.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10) })
		return err
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// Row 8 of RELIABILITY.md (Shutdown half): 10,000 AsyncWrites of 1 KiB are queued
// on a conn whose server side has a 16 KiB SO_SNDBUF and whose peer does not read
// (a 16 KiB receive buffer), then Shutdown runs with a 2 s deadline. The conn never
// goes idle, so Shutdown must keep draining until its ctx ends (the peer reads
// 256 KiB meanwhile, and the writes those bytes free must complete with nil),
// then force-close the conn and return ctx.Err(). By the time Shutdown returns,
// every AsyncWrite callback must have run exactly once, in order: nil for the
// writes that reached the kernel, loop.ErrClosed for the rest. (Draining a slow
// reader to the end is TestShutdownDrainsQueuedWritesToASlowReader; force-closing
// a conn with unread input is TestShutdownForceClosesWhatRemainsWhenItsContextEnds.)
func TestShutdownWithQueuedWritesRunsEveryCallbackOnce(t *testing.T) {
	const (
		writes   = 10000
		size     = 1 << 10
		deadline = 2 * time.Second
		peerRead = 256 << 10
	)
	e := newEngine(t, Options{Loops: 1})
	conns := make(chan *transport.Conn, 1)
	closeErrs := make(chan error, 2)
	h := &handlerFunc{
		open: func(c *transport.Conn) {
			if err := unix.SetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF, 16<<10); err != nil {
				t.Errorf("SO_SNDBUF: %v", err)
			}
			conns <- c
		},
		close: func(_ *transport.Conn, err error) { closeErrs <- err },
	}
	client := dialSmallWindow(t, serve(t, e, h))
	c := testutil.Recv(t, conns, 5*time.Second, "the server's conn")

	var cbs asyncCallbacks
	payload := bytes.Repeat([]byte{'w'}, size)
	for i := 0; i < writes; i++ {
		if err := c.AsyncWrite(payload, cbs.done(i)); err != nil {
			t.Fatalf("AsyncWrite %d: %v", i, err)
		}
	}
	// The outer task runs after every AsyncWrite's task, the inner one a round
	// later, once the round's flush has filled the kernel's buffers.
	queued := make(chan int, 1)
	c.Loop().Submit(func() { c.Loop().Submit(func() { queued <- c.Queued() }) })
	if q := testutil.Recv(t, queued, 10*time.Second, "the writes to be queued"); q < writes*size/2 {
		t.Fatalf("only %d of %d bytes stayed queued: the peer's buffers took the rest", q, writes*size)
	}
	okBefore := cbs.succeeded()

	start := time.Now()
	shut := make(chan error, 1)
	go func() { shut <- shutdownWithin(e, deadline) }()
	// The peer reads a little while Shutdown drains: writes must keep completing.
	if _, err := io.ReadFull(client, make([]byte, peerRead)); err != nil {
		t.Fatalf("the peer's read during the drain: %v", err)
	}
	testutil.Eventually(t, deadline, func() bool { return cbs.succeeded() >= okBefore+peerRead/size/2 },
		"no write completed while Shutdown drained (%d succeeded, %d before)", cbs.succeeded(), okBefore)
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) after %v with writes still queued to a live peer", err, time.Since(start))
	default:
	}

	err := testutil.Recv(t, shut, deadline+10*time.Second, "Shutdown")
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown returned %v, want context.DeadlineExceeded", err)
	}
	if elapsed > deadline+5*time.Second {
		t.Fatalf("Shutdown took %v: it did not force-close promptly after its %v deadline", elapsed, deadline)
	}
	ok := cbs.check(t, writes, loop.ErrClosed)
	t.Logf("%d writes completed before Shutdown, %d during the drain, %d failed at the force-close",
		okBefore, ok-okBefore, writes-ok)
	if ok == writes {
		t.Fatal("every write completed: the peer read everything, so nothing was force-closed")
	}
	if err := testutil.Recv(t, closeErrs, time.Second, "OnClose"); !errors.Is(err, loop.ErrClosed) {
		t.Fatalf("OnClose got %v, want loop.ErrClosed", err)
	}
	if len(closeErrs) != 0 {
		t.Fatal("OnClose ran twice")
	}
}
