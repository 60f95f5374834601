package transport

import (
	"time"

	"github.com/sycamore-go/sycamore/loop"
)

// idleTimeout is a conn's SetIdleTimeout state, kept in connExtra.
type idleTimeout struct {
	after      time.Duration
	timer      loop.Timer
	lastActive time.Time
}

// touch records traffic for the idle timeout.
func (c *Conn) touch() {
	if c.extra != nil && c.extra.idle.after > 0 {
		c.extra.idle.lastActive = c.l.Now()
	}
}

// SetIdleTimeout closes the conn with ErrIdleTimeout once d passes with no bytes
// read or written; d <= 0 turns it off. Activity is stamped with the loop's round
// clock, and the timer is re-armed only when it fires, so traffic costs no timer
// work. Loop goroutine only.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.checkOwner("transport.Conn.SetIdleTimeout")
	if c.state == Closed {
		return
	}
	idle := &c.more().idle
	idle.timer.Stop()
	idle.after = d
	if d <= 0 {
		return
	}
	idle.lastActive = c.l.Now()
	if idle.timer == (loop.Timer{}) {
		idle.timer = c.l.AfterFunc(d, c.checkIdle)
	} else {
		idle.timer.Reset(d)
	}
}

func (c *Conn) checkIdle() {
	idle := &c.extra.idle
	if c.state == Closed || idle.after <= 0 {
		return
	}
	quiet := time.Since(idle.lastActive)
	if quiet >= idle.after {
		c.finish(ErrIdleTimeout)
		return
	}
	idle.timer.Reset(idle.after - quiet)
}
