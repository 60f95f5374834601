package main

import (
	"time"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// The header timeout bounds the time from the first byte of a request head to
// its end, as HAProxy's "timeout http-request" and net/http's ReadHeaderTimeout
// do. An idle timeout alone does not stop a slowloris client: one byte sent a
// little more often than the idle timeout keeps its conn open for ever. A head
// not complete in time is answered 408 with "Connection: close", and the conn is
// closed as any refused request is (lingerClose). Bodies are not covered: the
// bound is on the head, and a stalled body is the idle timeout's business.
//
// Serving allocates nothing per request, so there is no timer per request. A
// conn gets a headerTimer the first time an OnData ends with part of a head left
// unread (rare for a load generator, which writes whole requests) and keeps it,
// in its context, for life: every later wait re-arms the same loop timer, which
// allocates nothing. A conn whose heads always arrive whole never gets one, and
// costs one type assertion per OnData.
//
// The clock starts at the OnData that first sees part of a head, since the
// head's first byte arrived in that round. It keeps running while more bytes of
// the same head arrive (a trickle must not restart it: that is the point),
// restarts when an OnData answers a request and leaves the start of the next
// head, and stops when an OnData leaves no partial head behind.

// statusRequestTimeout answers a head that did not arrive within the header
// timeout.
const statusRequestTimeout = 408

// headerTimer is a conn's header-timeout clock. Loop goroutine only.
type headerTimer struct {
	c       *transport.Conn
	state   *perLoop
	timer   loop.Timer // made on the first wait, re-armed by the later ones
	running bool
}

// timeHead starts, keeps or stops c's header clock at the end of an OnData that
// left partial (part of a head) or not, and answered at least one request or
// not. It allocates only when c's first partial head needs a clock.
func (s *server) timeHead(c *transport.Conn, state *perLoop, partial, answered bool) {
	timer, _ := c.Context().(*headerTimer)
	if !partial {
		if timer != nil {
			timer.stop()
		}
		return
	}
	if timer == nil {
		timer = &headerTimer{c: c, state: state}
		c.SetContext(timer)
	}
	if !timer.running || answered {
		timer.start(s.headerTimeout)
	}
}

// start (re)arms the clock to expire after d.
func (ht *headerTimer) start(d time.Duration) {
	ht.running = true
	if ht.timer == (loop.Timer{}) {
		ht.timer = ht.c.Loop().AfterFunc(d, ht.expire)
		return
	}
	ht.timer.Reset(d)
}

// stop stops the clock if it runs.
func (ht *headerTimer) stop() {
	if ht.running {
		ht.running = false
		ht.timer.Stop()
	}
}

// expire answers the head that did not complete in time with 408, and closes.
func (ht *headerTimer) expire() {
	ht.running = false
	if ht.c.State() == transport.Open {
		ht.state.reject(ht.c, statusRequestTimeout)
	}
}
