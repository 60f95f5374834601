package transport

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/bufpool"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/poller"
)

// Close stops reading, writes what is queued, then closes; OnClose then runs with
// nil. A peer that never reads keeps the conn Closing until it does, an idle
// timeout fires, or Abort. Calling Close again does nothing. Loop goroutine only.
func (c *Conn) Close() error {
	switch c.state {
	case Closed:
		return ErrClosed
	case Closing:
		return nil
	case Connecting:
		c.finish(nil)
		return nil
	}
	c.state = Closing
	if c.out == nil {
		c.finish(nil)
		return nil
	}
	if c.flags&inHandler == 0 {
		c.settle()
	}
	return nil
}

// CloseWrite half-closes: once the queue is written, the write side is shut
// (shutdown SHUT_WR) and the peer reads EOF; reading goes on. Loop goroutine only.
func (c *Conn) CloseWrite() error {
	if c.state != Open {
		return ErrClosed
	}
	if c.flags&(writeShut|shutAfterFlush) != 0 {
		return nil
	}
	c.flags |= shutAfterFlush
	if c.flags&inHandler == 0 {
		c.settle()
	}
	return nil
}

// Abort closes at once with a reset (SO_LINGER 0): queued bytes are dropped and
// OnClose runs with ErrAborted. Loop goroutine only.
func (c *Conn) Abort() error {
	if c.state == Closed {
		return ErrClosed
	}
	unix.SetsockoptLinger(int(c.fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	c.finish(ErrAborted)
	return nil
}

// AsyncClose closes the conn (as Close) from any goroutine. It returns ErrClosed
// if the loop has stopped. Safe from any goroutine.
func (c *Conn) AsyncClose() error {
	if err := c.l.Submit(func() { c.Close() }); err != nil {
		return ErrClosed
	}
	return nil
}

// Finalize is the conn's loop.Finalizer method: the loop calls it when a handler
// panicked or the loop closed with the conn still open. The conn closes at once
// with err. Handlers never need to call it.
func (c *Conn) Finalize(err error) {
	c.flags &^= inHandler
	c.finish(err)
}

// fail closes the conn after a syscall error and returns the error it reported.
func (c *Conn) fail(op string, errno error) error {
	err := fmt.Errorf("transport: %s: %w", op, errno)
	c.finish(err)
	return err
}

// finish is the one way a conn ends: give the fd back to the loop (closed at the
// end of the round), drop buffers, fail waiting callbacks, run OnClose once.
func (c *Conn) finish(err error) {
	if c.state == Closed {
		return
	}
	c.state = Closed
	c.interest = 0
	c.l.Release(c)
	if c.flags&inHandler == 0 {
		c.releaseIn() // inside OnData the handler may still hold slices of it
	}
	if c.out != nil {
		bufpool.Put(c.out)
		c.out, c.outOff = nil, 0
	}
	if c.extra != nil {
		c.extra.idleTimer.Stop()
	}
	pendingErr := err
	if pendingErr == nil {
		pendingErr = ErrClosed
	}
	c.failPending(pendingErr)
	c.guard(func() { c.h.OnClose(c, err) })
}

// connectDone completes Dial's non-blocking connect on its first event.
func (c *Conn) connectDone(ev poller.Event) {
	errno, err := sys.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && errno != 0 {
		err = unix.Errno(errno)
	}
	if err != nil {
		c.fail("connect", err)
		return
	}
	if _, perr := unix.Getpeername(int(c.fd)); perr == unix.ENOTCONN {
		if ev.Ready&(poller.Hangup|poller.Error) != 0 {
			c.fail("connect", unix.ECONNREFUSED)
		}
		return // not connected yet: a spurious event
	}
	c.state = Open
	c.opened()
}
