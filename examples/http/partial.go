package main

import "github.com/sycamore-go/sycamore/transport"

// partial is what a conn keeps, in its context, while a request is only partly
// buffered: how far its head is parsed, so that the next OnData goes on from
// there instead of parsing the head again from its first byte, and its request
// clock. A conn gets one the first time an OnData ends inside a request (rare
// for a load generator, which writes whole requests), and keeps it for life, so
// that later partial requests allocate nothing; a conn whose requests always
// arrive whole never gets one.
type partial struct {
	head  headParser
	clock requestClock
}

// keepPartial updates c's partial, p (nil if c has none yet), at the end of an
// OnData that left left behind, parsed by head as far as it goes, and answered
// at least one request or not: it keeps head's progress for the next OnData and
// times the request; with nothing left, it forgets the last one.
func (s *server) keepPartial(c *transport.Conn, state *perLoop, p *partial, head *headParser, left outcome, answered bool) {
	if left == nothingLeft {
		p.head = headParser{}
		p.clock.stop()
		return
	}
	if p == nil {
		p = &partial{clock: requestClock{c: c, state: state}}
		c.SetContext(p)
	}
	if head != &p.head {
		p.head = *head
	}
	if s.timed {
		p.clock.time(s, left, answered)
	}
}
