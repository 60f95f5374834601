package transport

import (
	"github.com/sycamore-go/sycamore/internal/connctl"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
)

// connTarget is the conn as its loop sees it: the loop.Target (with RoundEnder
// and Finalizer) that transport registers for every conn. It is a Conn under
// another name, so the loop's plumbing stays off the user's type and costs no
// allocation.
type connTarget Conn

func (t *connTarget) conn() *Conn { return (*Conn)(t) }

// Fd is the loop.Target method.
func (t *connTarget) Fd() int { return int(t.fd) }

// HandleEvent reads, writes and notifies as the event says, then flushes what the
// handler queued with one syscall and hands the loop the interest the conn now
// needs (applied once, when this returns).
func (t *connTarget) HandleEvent(ev poller.Event) {
	c := t.conn()
	switch c.state {
	case Closed:
		return
	case Connecting:
		if s := c.tlsLayer(); s != nil && s.hs != nil {
			s.handshakeEvent(c, ev)
			c.settle()
			return
		}
		c.connectDone(ev)
		return
	}
	if ev.Ready&(poller.Readable|poller.ReadHangup|poller.Hangup|poller.Error) != 0 && c.canRead() {
		c.readOnce()
	}
	if c.state != Closed && ev.Ready&(poller.Writable|poller.Hangup|poller.Error) != 0 {
		c.writable()
	}
	c.settle()
}

// OnRoundEnd is the loop.RoundEnder method, called at the end of a round in which
// the conn asked (writes queued outside its own callbacks, reading resumed with
// input buffered, an emptied input buffer to give back).
func (t *connTarget) OnRoundEnd() {
	c := t.conn()
	if c.flags&dataPending != 0 {
		c.flags &^= dataPending
		if len(c.view) > 0 && c.canRead() {
			c.h.OnData(c)
		}
	}
	if c.flags&streamReady != 0 && c.canRead() {
		c.flags &^= streamReady
		c.readOnce()
	}
	c.keepUnread()
	c.settle()
}

// Finalize is the loop.Finalizer method: the loop gives the conn up after one of
// its callbacks panicked, when the poller refused its interest, or when the loop
// closes with the conn open. The conn closes at once with err.
func (t *connTarget) Finalize(err error) { t.conn().finish(err) }

// open runs OnOpen as one of the conn's callbacks (a panic closes the conn), then
// flushes what it wrote.
func (c *Conn) open() { c.reg.Call(openConn) }

func openConn(t loop.Target) {
	c := t.(*connTarget).conn()
	c.h.OnOpen(c)
	c.settle()
}

// The engine's hooks (see internal/connctl).
func init() {
	connctl.Set(&connctl.Hooks[*Conn]{
		Of: func(t loop.Target) (*Conn, bool) {
			ct, ok := t.(*connTarget)
			return ct.conn(), ok
		},
		Throttle: (*Conn).throttle,
		Quiet:    (*Conn).quiet,
		Fail: func(c *Conn, err error) {
			c.l.HandleError((*connTarget)(c), err)
			c.finish(err)
		},
		Refuse: func(fd int) { sys.Close(fd) },
		Received: func(c *Conn, next bool) bool {
			got := c.flags&(received|receivedBefore) != 0
			if next {
				last := c.flags&received != 0
				c.flags &^= received | receivedBefore
				if last {
					c.flags |= receivedBefore
				}
			}
			return got
		},
	})
}

// throttle pauses or resumes reading on an engine's behalf.
func (c *Conn) throttle(on bool) {
	switch {
	case on:
		c.flags |= throttled
		c.syncInterest()
	case c.flags&throttled != 0:
		c.flags &^= throttled
		c.readResumed()
	}
}

// quiet reports whether the conn can close without losing a byte: open, nothing
// buffered either way (a TLS layer's incomplete record included), nothing
// unread in the kernel.
func (c *Conn) quiet() bool {
	if c.state != Open || len(c.view) > 0 || c.writePending() || c.flags&streamReady != 0 {
		return false
	}
	if s := c.tlsLayer(); s != nil && s.pend != nil {
		return false // part of a record is in: the rest is on its way
	}
	unread, err := sys.Unread(int(c.fd))
	return err != nil || unread == 0
}
