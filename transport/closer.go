package transport

import (
	"sync"

	"github.com/sycamore-go/sycamore/loop"
)

// loopCloser is what a Listener and a PacketConn share for Close from any
// goroutine: whether they are closed, and the loop serving them, to which a
// Close from elsewhere is handed and waited for.
type loopCloser struct {
	mu     sync.Mutex // guards closed and l against Close from other goroutines
	closed bool
	l      *loop.Loop
}

// closeVia marks the socket closed and runs now: at once when no running loop
// serves it or the caller is that loop, on the loop otherwise, waiting for it.
// It returns ErrClosed when the socket was closed already.
func (c *loopCloser) closeVia(now func()) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	l := c.l
	c.mu.Unlock()
	if l == nil || !l.Running() || l.InLoop() {
		now()
		return nil
	}
	done := make(chan struct{})
	if err := l.Submit(func() { now(); close(done) }); err != nil {
		return nil // the loop stopped: its Close finalizes the socket
	}
	<-done
	return nil
}

// markClosed records a close the loop made (Finalize).
func (c *loopCloser) markClosed() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}
