package main

import (
	"time"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// Two timeouts bound how long one request may take to arrive, both counted from
// the round in which its first byte was read. The header timeout bounds its head,
// as HAProxy's "timeout http-request" and net/http's ReadHeaderTimeout do; the
// request timeout bounds its head and body together, as net/http's ReadTimeout
// does. An idle timeout alone stops neither a slowloris client nor a slow-body
// one: a byte sent a little more often than the idle timeout keeps a conn open
// for ever, and a body may be up to 1 MiB. A request not complete in time is
// answered 408 with "Connection: close", and the conn is closed as any refused
// request is (lingerClose). While the head is partial the earlier of the two
// deadlines applies; once the head is in, the request timeout alone.
//
// Serving allocates nothing per request, so there is no timer per request. A
// conn's requestClock is part of its partial (see keepPartial), made the first
// time an OnData ends with part of a request left unread (rare for a load
// generator, which writes whole requests) and kept for life: every later wait
// re-arms the same loop timer, which allocates nothing. A conn whose requests
// always arrive whole never gets one, and a pipelined keep-alive conn does no
// timer work at all.
//
// The clock starts at the OnData that first sees part of a request, since the
// request's first byte arrived in that round. It keeps running while more bytes
// of the same request arrive (a trickle must not restart it: that is the point),
// moves its deadline once, from the head's to the whole request's, when the head
// completes with the body still on its way, restarts when an OnData answers a
// request and leaves the start of the next, and stops when an OnData leaves no
// partial request behind.

// timeouts are the server's two request timeouts (0: no bound).
type timeouts struct {
	header  time.Duration // from a request's first byte to the end of its head
	request time.Duration // from a request's first byte to the end of its body
}

// bound is one deadline a partial request runs to: how long after the request's
// first byte (0: none), and the 408 that answers it.
type bound struct {
	after  time.Duration
	answer *response
}

// headBound is the deadline of a partial head: the earlier of the two timeouts.
func (t timeouts) headBound() bound {
	if t.header > 0 && (t.request == 0 || t.header <= t.request) {
		return bound{t.header, headTimedOut}
	}
	return bound{t.request, requestTimedOut}
}

// bodyBound is the deadline of a request whose head is in and whose body is not.
func (t timeouts) bodyBound() bound { return bound{t.request, requestTimedOut} }

// requestClock is a conn's request-timeout clock. Loop goroutine only.
type requestClock struct {
	c      *transport.Conn
	state  *perLoop
	timer  loop.Timer // made on the first wait, re-armed by the later ones
	start  time.Time  // the round in which the current request's first byte was read
	armed  bound      // the deadline the timer runs to; after is 0 when it is stopped
	inBody bool       // the head is in: the timer runs to the body's deadline
}

// time starts, keeps, moves or stops the clock at the end of an OnData that
// left left behind, and answered at least one request or not.
func (rc *requestClock) time(s *server, left outcome, answered bool) {
	var next bound
	switch left {
	case partialHead:
		next = s.heads
	case partialBody:
		next = s.bodies
	}
	inBody := left == partialBody
	switch {
	case next.after == 0:
		rc.stop()
	case rc.armed.after == 0 || answered: // a new request: its first byte came this round
		rc.start = rc.c.Loop().Now()
		rc.arm(next, 0, inBody)
	case inBody && !rc.inBody: // its head is in: run to the whole request's deadline
		rc.arm(next, rc.c.Loop().Now().Sub(rc.start), true)
	}
}

// arm (re)arms the clock to expire at b, elapsed after the request began.
func (rc *requestClock) arm(b bound, elapsed time.Duration, inBody bool) {
	rc.armed, rc.inBody = b, inBody
	d := b.after - elapsed
	if rc.timer == (loop.Timer{}) {
		rc.timer = rc.c.Loop().AfterFunc(d, rc.expire)
		return
	}
	rc.timer.Reset(d)
}

// stop stops the clock if it runs.
func (rc *requestClock) stop() {
	if rc.armed.after != 0 {
		rc.armed = bound{}
		rc.timer.Stop()
	}
}

// expire answers the request that did not complete in time with 408, and closes.
func (rc *requestClock) expire() {
	answer := rc.armed.answer
	rc.armed = bound{}
	if rc.c.State() == transport.Open {
		rc.state.reject(rc.c, answer)
	}
}
