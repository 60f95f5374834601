package main

import "github.com/sycamore-go/sycamore/transport"

// echo is the handler: it has no state, so one value serves every conn on every
// loop.
type echo struct{ transport.BaseHandler }

// OnData writes back everything that arrived. Next(-1) hands out the bytes where
// they lie (in the loop's shared read buffer), Write copies them into the conn's
// pooled write queue, and the loop flushes the queue with one write(2) when
// OnData returns. Errors need no handling: Write fails only on a closed conn,
// and the conn reports its own failures through OnClose.
func (echo) OnData(c *transport.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}
