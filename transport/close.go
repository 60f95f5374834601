package transport

import (
	"fmt"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
)

// Close stops reading, writes what is queued, then closes; OnClose then runs with
// nil. A peer that never reads keeps the conn Closing until it does, an idle
// timeout fires, or Abort. Calling Close again does nothing. Loop goroutine only.
func (c *Conn) Close() error {
	c.checkOwner("transport.Conn.Close")
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
	if !c.writePending() && c.tlsLayer() == nil {
		c.finish(nil)
		return nil
	}
	if !c.reg.InCallback() {
		c.settle()
	}
	return nil
}

// CloseWrite half-closes: once the queue is written, the write side is shut
// (shutdown SHUT_WR) and the peer reads EOF; reading goes on. Loop goroutine only.
func (c *Conn) CloseWrite() error {
	c.checkOwner("transport.Conn.CloseWrite")
	if c.state != Open {
		return ErrClosed
	}
	if c.flags&(writeShut|shutAfterFlush) != 0 {
		return nil
	}
	c.flags |= shutAfterFlush
	if !c.reg.InCallback() {
		c.settle()
	}
	return nil
}

// Abort closes at once with a reset (SO_LINGER 0): queued bytes are dropped and
// OnClose runs with ErrAborted. Loop goroutine only.
func (c *Conn) Abort() error {
	c.checkOwner("transport.Conn.Abort")
	if c.state == Closed {
		return ErrClosed
	}
	c.stream().reset(c)
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
	if x := c.extra; x != nil && x.io != nil {
		// First: a TLS handshake's goroutine writes to the fd until told.
		x.io.release(c)
	}
	if c.reg.Registered() {
		c.reg.Release()
	} else {
		sys.Close(int(c.fd)) // a Dial whose registration failed
	}
	if !c.reg.InCallback() {
		c.releaseIn() // inside OnData the handler may still hold slices of it
	}
	if c.out != nil {
		c.dropOut()
	}
	c.markOwed(owedClosed)
	if x := c.extra; x != nil {
		x.idle.timer.Stop()
		if x.soft != nil {
			x.soft.timer.Stop()
		}
	}
	pendingErr := err
	if pendingErr == nil {
		pendingErr = ErrClosed
	}
	c.failPending(pendingErr)
	c.notifyClosed(err)
}

// notifyClosed runs OnClose. The conn is closed already, so a panic in it is
// only reported.
func (c *Conn) notifyClosed(err error) {
	defer func() {
		if v := recover(); v != nil {
			c.l.HandleError((*connTarget)(c), &loop.PanicError{Value: v, Stack: debug.Stack()})
		}
	}()
	c.h.OnClose(c, err)
}

// connectDone completes Dial's non-blocking connect on its first event: SO_ERROR
// says whether it failed, and getpeername whether it is done.
func (c *Conn) connectDone(ev poller.Event) {
	errno, err := sys.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && errno != 0 {
		err = unix.Errno(errno)
	}
	if err != nil {
		c.fail("connect", err)
		return
	}
	switch _, err := sys.Getpeername(int(c.fd)); {
	case err == unix.ENOTCONN && ev.Ready&(poller.Hangup|poller.Error) != 0:
		c.fail("connect", unix.ECONNREFUSED)
		return
	case err == unix.ENOTCONN:
		return // not connected yet: a spurious event
	case err != nil:
		c.fail("connect", err)
		return
	}
	if c.reg.WriteDeferred() {
		// A Send or DeferWrite while connecting owes an OnWritable; this event
		// must not spend it.
		c.reg.DeferWrite()
	}
	c.established()
}
