package main

import (
	"time"

	"github.com/sycamore-go/sycamore/transport"
)

// drainMargin is how long before a shutdown's deadline a keep-alive conn
// between requests is let go (see Busy). Until then it stays open, so that a
// client that sends its next request is answered (with "Connection: close")
// instead of finding its conn closed under it, a race that costs the client a
// read error. Closer to the deadline the engine closes it while idle, and the
// force-close at the deadline finds nothing left to cut.
const drainMargin = time.Second

// drainFunc reports a shutdown under way and its deadline: shard's
// Engine.Draining.
type drainFunc func() (deadline time.Time, draining bool)

// drainingNow reports whether the server is shutting down: its responses then
// carry "Connection: close" and end their conn.
func (state *perLoop) drainingNow() bool {
	if state.draining == nil {
		return false
	}
	_, draining := state.draining()
	return draining
}

// Busy is shard's Busier: during a shutdown with a deadline, a keep-alive conn
// between requests is busy until the deadline is drainMargin away. A conn in the
// middle of a request is never idle anyway (its bytes are buffered).
func (s *server) Busy(c *transport.Conn) bool {
	state := s.stateOf(c.Loop())
	if state.draining == nil {
		return false
	}
	deadline, draining := state.draining()
	return draining && !deadline.IsZero() && time.Until(deadline) > drainMargin
}

// drainWith makes the server answer with "Connection: close" while draining
// reports a shutdown, and keep conns between requests while it has time.
func (s *server) drainWith(draining drainFunc) {
	for _, state := range s.loops {
		if state != nil {
			state.draining = draining
		}
	}
}
