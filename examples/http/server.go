package main

import (
	"time"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// server is the HTTP/1.1 handler, one value shared by every loop. What a loop
// needs for itself (its Date line and a scratch buffer for building responses)
// lives in a perLoop, found by the loop's ID, so handlers never share mutable
// state across loops and never lock.
//
// A request is answered once its head and its whole body are buffered; until then
// its bytes stay unread in the conn, which offers them again, with the new ones,
// at the next OnData. All responses written in one OnData leave in one write(2)
// when it returns, so a pipelined batch costs one syscall each way.
type server struct {
	transport.BaseHandler
	loops []*perLoop // indexed by loop ID
	// heads and bodies are the deadlines of a partial head and of a partial body
	// (after 0: none), from the timeouts; see requestClock. timed: either is set.
	heads, bodies bound
	timed         bool
}

// perLoop is the state of one loop's handlers. Loop goroutine only, except for
// the clock's first value, set before the loop serves anything.
type perLoop struct {
	l        *loop.Loop
	clock    *dateClock
	scratch  []byte
	draining drainFunc // nil: never (see drainWith)
}

// scratchSize fits any response this server sends, so the scratch buffer never
// grows: the longest (431) is about 200 bytes.
const scratchSize = 512

// lingerTimeout bounds how long a conn answered with an error keeps reading
// (and dropping) input after its write side is shut; see lingerClose. net/http
// waits 500 ms for the same reason; a little more suits slow test machines.
const lingerTimeout = time.Second

// newServer returns a server for conns on loops, whose IDs must be distinct and
// not negative (shard numbers its loops 0..n-1), that answers a request whose
// head is not complete within t.header of its first byte, or whose head and body
// are not within t.request, with 408 (0: no such bound). It starts
// one Date clock per loop, through Submit, so the loops may or may not be running
// yet. A conn on a loop that was not given here is still served, only slowly (see
// stateOf).
func newServer(loops []*loop.Loop, t timeouts) *server {
	if t.header < 0 || t.request < 0 {
		panic("http: newServer needs timeouts of 0 or more")
	}
	s := &server{heads: t.headBound(), bodies: t.bodyBound()}
	s.timed = s.heads.after > 0 || s.bodies.after > 0
	now := time.Now()
	for _, l := range loops {
		id := l.ID()
		if id < 0 || (id < len(s.loops) && s.loops[id] != nil) {
			panic("http: newServer needs distinct, non-negative loop IDs")
		}
		for len(s.loops) <= id {
			s.loops = append(s.loops, nil)
		}
		s.loops[id] = newPerLoop(l, now)
		s.loops[id].clock.start(l)
	}
	return s
}

func newPerLoop(l *loop.Loop, now time.Time) *perLoop {
	return &perLoop{l: l, clock: newDateClock(now), scratch: make([]byte, 0, scratchSize)}
}

// stop cancels the Date clocks' timers. Safe from any goroutine; closing the
// loops drops the timers too, so calling it is optional.
func (s *server) stop() {
	for _, state := range s.loops {
		if state != nil {
			state.clock.stop(state.l)
		}
	}
}

// stateOf returns l's perLoop. For a loop newServer was not given it makes a new
// one each time: correct, with a fresh Date, but allocating.
func (s *server) stateOf(l *loop.Loop) *perLoop {
	if id := l.ID(); id >= 0 && id < len(s.loops) && s.loops[id] != nil && s.loops[id].l == l {
		return s.loops[id]
	}
	return newPerLoop(l, time.Now())
}

// lingering is the context of a conn answered with an error and being closed;
// see lingerClose. A zero-size value in an interface costs no allocation.
type lingering struct{}

// OnData answers every complete request buffered on c, in order, and leaves an
// incomplete one unread for the next call, with what it has parsed of it and its
// request clock running (see partial).
func (s *server) OnData(c *transport.Conn) {
	var p *partial
	switch ctx := c.Context().(type) {
	case lingering:
		c.Discard(c.Buffered())
		return
	case *partial:
		p = ctx
	}
	state := s.stateOf(c.Loop())
	in, _ := c.Peek(-1)
	var fresh headParser
	head := &fresh // the first request goes on from where the last OnData left it
	if p != nil {
		head = &p.head
	}
	served, left := 0, nothingLeft
	for served < len(in) {
		n, result := state.serveOne(c, in[served:], head)
		if result == connClosed {
			return
		}
		if n == 0 {
			left = result
			break
		}
		served += n
		fresh, head = headParser{}, &fresh
	}
	c.Discard(served)
	if left != nothingLeft || p != nil {
		s.keepPartial(c, state, p, head, left, served > 0)
	}
}

// outcome is what serveOne did with the bytes it was given.
type outcome uint8

const (
	nothingLeft outcome = iota // a request was answered (or there was none); c is open
	partialHead                // the head is not complete yet
	partialBody                // the head is complete, its body is not
	connClosed                 // c was closed and its input dropped
)

// serveOne answers the request at the start of in, parsed with head. It returns
// how many bytes the request took (0 when it is still incomplete, with
// partialHead or partialBody) and what became of it; after connClosed, all of
// c's input has been dropped.
func (state *perLoop) serveOne(c *transport.Conn, in []byte, head *headParser) (n int, done outcome) {
	headLen, status := head.parse(in)
	switch status {
	case headComplete:
	case needMore:
		return 0, partialHead
	default:
		state.reject(c, errorResponse(status))
		return 0, connClosed
	}
	req := &head.req
	total := headLen + req.contentLength
	if len(in) < total {
		// The body is still on its way. A client that sent "Expect: 100-continue"
		// may wait for a go-ahead first; send it once, while no body byte has
		// arrived (the next OnData brings new bytes, so it is not sent again).
		if req.expectContinue && req.minor == 1 && len(in) == headLen {
			c.Write(continueResponse)
		}
		return 0, partialBody
	}
	closing := !req.keepAlive || state.drainingNow()
	r := route(req)
	if r == whoami {
		r = whoamiFor(c)
	}
	state.respond(c, r, connHeaderFor(req, closing), req.method != methodHEAD)
	if closing {
		c.Discard(c.Buffered())
		c.Close() // writes the response first
		return total, connClosed
	}
	return total, nothingLeft
}

// OnClose stops c's request clock, if it has one, so that a closed conn leaves
// no timer behind on its loop.
func (s *server) OnClose(c *transport.Conn, _ error) {
	if p, ok := c.Context().(*partial); ok {
		p.clock.stop()
	}
}

// respond builds r in the scratch buffer and queues it on c; Write copies it.
func (state *perLoop) respond(c *transport.Conn, r *response, conn connHeader, withBody bool) {
	state.scratch = appendResponse(state.scratch[:0], r, state.clock.line, conn, withBody)
	c.Write(state.scratch)
}

// reject answers a request that cannot be served with r and closes c.
func (state *perLoop) reject(c *transport.Conn, r *response) {
	if p, ok := c.Context().(*partial); ok {
		p.clock.stop() // lingerClose replaces the context that holds it
	}
	state.respond(c, r, connClose, true)
	lingerClose(c)
}

// lingerClose closes a conn whose client may still be sending (a body that was
// refused, the rest of an oversized head). Closing a socket with unread input
// makes the kernel send a reset, and a reset can destroy the error response
// before the client has read it. So: drop the input, shut the write side once
// the response is written (the client reads it, then EOF), keep reading and
// dropping until the client closes (the conn then closes itself), and close
// anyway after lingerTimeout. The timer allocates, but only on this error path.
func lingerClose(c *transport.Conn) {
	c.Discard(c.Buffered())
	c.SetContext(lingering{})
	c.CloseWrite()
	c.Loop().AfterFunc(lingerTimeout, func() { c.Close() })
}
