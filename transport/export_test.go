package transport

import "github.com/sycamore-go/sycamore/poller"

// DeliverEvent hands ev to c as its loop hands it a polled event, for tests that
// script events. Loop goroutine only.
func DeliverEvent(c *Conn, ev poller.Event) { c.reg.Deliver(ev) }

// ListenerRegistered reports whether ln still holds its fd on its loop. Loop
// goroutine only.
func ListenerRegistered(ln *Listener) bool { return ln.reg.Registered() }

// ConnInterest returns the interest c's registration asks of the poller. Loop
// goroutine only.
func ConnInterest(c *Conn) poller.Interest { return c.reg.Interest() }

// TLSHeld returns the bytes c's TLS layer holds in buffers of its own (an
// incomplete record, ciphertext not yet written, handshake input) and whether
// its handshake state is still there. Loop goroutine only.
func TLSHeld(c *Conn) (held int, handshaking bool) {
	s := c.tlsLayer()
	if s == nil {
		return 0, false
	}
	if s.pend != nil {
		held += cap(*s.pend)
	}
	if s.ct != nil {
		held += cap(*s.ct)
	}
	return held, s.hs != nil
}

// SetHandshakeInputPause sets how many unconsumed bytes a TLS handshake holds
// before its loop stops reading, until the test ends. Before any loop runs.
func SetHandshakeInputPause(t interface{ Cleanup(func()) }, n int) {
	old := handshakeInputPause
	handshakeInputPause = n
	t.Cleanup(func() { handshakeInputPause = old })
}

// QueueCap is the capacity of the conn's write-queue buffer (0 without one).
// Loop goroutine only.
func QueueCap(c *Conn) int {
	if c.out == nil {
		return 0
	}
	return cap(*c.out)
}
