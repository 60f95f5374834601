package transport

import "github.com/sycamore-go/sycamore/poller"

// settle runs at the end of every callback of the conn (HandleEvent, OnRoundEnd,
// the open), and after Close, CloseWrite and Flush called outside them: flush the
// queue, apply the water marks and pending closes, and give the loop the interest
// the conn now needs.
func (c *Conn) settle() {
	if c.state == Closed {
		return
	}
	if c.writePending() && c.state != Connecting && c.flags&writeBlocked == 0 {
		c.flush()
		if c.state == Closed {
			return
		}
	}
	c.afterWrite()
	c.syncInterest()
}

// syncInterest tells the registration what the conn needs: Readable while it
// wants input, Writable while bytes are queued (an owed OnWritable is the
// registration's one-shot notification). Inside the conn's callbacks the loop
// applies it once, when the callback returns.
func (c *Conn) syncInterest() {
	var want poller.Interest
	switch c.state {
	case Closed:
		return
	case Connecting:
		want = poller.Writable
		if c.handshaking() {
			want = c.handshakeInterest()
		}
	default:
		if c.canRead() {
			want |= poller.Readable
		}
		if c.writePending() {
			want |= poller.Writable
		}
	}
	if err := c.reg.SetInterest(want); err != nil {
		c.fail("poller", err)
	}
}

// writable handles a Writable (or error) event: write the queue, then, if the
// event delivers an owed OnWritable and the queue is empty, call it. While the
// queue is not drained, the owed OnWritable stays armed.
func (c *Conn) writable() {
	c.flags &^= writeBlocked
	if c.writePending() {
		c.flush()
		if c.state == Closed {
			return
		}
		if c.writePending() {
			if c.reg.WriteDeferred() {
				c.reg.DeferWrite() // keep it for when the queue drains
			}
			return
		}
	}
	if c.reg.WriteDeferred() {
		c.h.OnWritable(c)
	}
}
