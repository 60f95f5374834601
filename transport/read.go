package transport

import (
	"io"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/bufpool"
)

// canRead reports whether the conn wants input now.
func (c *Conn) canRead() bool {
	return c.state == Open && c.flags&(userPaused|throttled|waterPaused|readEOF) == 0
}

// readOnce reads once per readable event (a per-event budget, so one firehose
// conn cannot starve the others) and offers the bytes to OnData.
func (c *Conn) readOnce() {
	n, err := c.readInto()
	switch {
	case err == unix.EAGAIN:
		return // spurious readiness
	case err != nil:
		c.fail("read", err)
		return
	case n == 0:
		c.eof()
		return
	}
	c.l.CountIO(n, 0)
	c.touch()
	c.flags |= received
	c.h.OnData(c)
	c.keepUnread()
}

// readInto reads into the loop's shared buffer, after the bytes the handler left
// unread if there are few of them, or into the conn's own buffer when there are
// many. On success c.view holds every unread byte.
func (c *Conn) readInto() (int, error) {
	rb := c.l.ReadBuffer()
	left := len(c.view)
	room := len(rb) / 2
	if c.extra != nil && c.extra.io != nil {
		room = max(room, layerReadRoom)
	}
	if len(rb)-left >= room {
		n, err := c.stream().read(c, rb[left:])
		if n <= 0 {
			return n, err
		}
		copy(rb, c.view)
		c.releaseIn()
		c.view = rb[:left+n]
		return n, nil
	}
	// A large partial message: move it to the front of the conn's own buffer (the
	// view may have advanced, and *c.in's length is stale after earlier reads),
	// grow the buffer if little room is left, and read straight into it.
	buf := (*c.in)[:cap(*c.in)]
	buf = buf[:copy(buf, c.view)]
	*c.in = buf
	if cap(buf)-len(buf) < room {
		c.in = bufpool.Grow(c.in, max(len(buf), len(rb), room))
		buf = *c.in
	}
	n, err := c.stream().read(c, buf[len(buf):cap(buf)])
	if n <= 0 {
		c.view = buf
		return n, err
	}
	c.view = buf[:len(buf)+n]
	return n, nil
}

// layerReadRoom is the least room a layer's read gets: the TLS stream decrypts
// in place, so it needs room for an incomplete record kept from before and a
// whole record more.
const layerReadRoom = 2 * maxRecord

// keepUnread runs after OnData: bytes the handler left unread move from the shared
// buffer into a pooled buffer of the conn's own; with none left, or once the
// conn is closing, the conn gives its buffer back.
func (c *Conn) keepUnread() {
	switch {
	case c.state == Closed || c.state == Closing || len(c.view) == 0:
		// Closed or closing, the conn reads nothing more: unread bytes are dropped.
		c.releaseIn()
	case c.in == nil: // the view is on the loop's shared buffer
		c.in = bufpool.Get(len(c.view))
		*c.in = append(*c.in, c.view...)
		c.view = *c.in
	}
}

func (c *Conn) releaseIn() {
	if c.in != nil {
		bufpool.Put(c.in)
		c.in = nil
	}
	c.view = nil
}

// eof handles the peer's half-close.
func (c *Conn) eof() {
	c.flags |= readEOF
	if eh, ok := c.h.(EOFHandler); ok {
		eh.OnEOF(c)
		return
	}
	c.Close()
}

// Buffered returns how many unread bytes Peek, Next and Discard can see. Loop
// goroutine only.
func (c *Conn) Buffered() int {
	c.checkOwner("transport.Conn.Buffered")
	return len(c.view)
}

// Peek returns the next n unread bytes without consuming them (all of them when n
// < 0). With fewer than n buffered it returns what there is and
// io.ErrShortBuffer. The slice is valid until the handler returns. Loop goroutine
// only.
func (c *Conn) Peek(n int) ([]byte, error) {
	c.checkOwner("transport.Conn.Peek")
	// Every slice handed out is capped at its length, so an append to it copies
	// instead of writing over the loop's shared read buffer.
	all := c.view[:len(c.view):len(c.view)]
	if n < 0 || n == len(c.view) {
		return all, nil
	}
	if n > len(c.view) {
		return all, io.ErrShortBuffer
	}
	return c.view[:n:n], nil
}

// Next returns the next n unread bytes and consumes them (all of them when n < 0).
// With fewer than n buffered it consumes nothing and returns io.ErrShortBuffer. The
// slice is valid until the handler returns. Loop goroutine only.
func (c *Conn) Next(n int) ([]byte, error) {
	c.checkOwner("transport.Conn.Next")
	if n < 0 {
		n = len(c.view)
	}
	if n > len(c.view) {
		return nil, io.ErrShortBuffer
	}
	b := c.view[:n:n]
	c.consume(n)
	return b, nil
}

// Discard consumes the next n unread bytes (all of them when n < 0, as Peek and
// Next). With fewer buffered it consumes them all and returns their number with
// io.ErrShortBuffer. Loop goroutine only.
func (c *Conn) Discard(n int) (int, error) {
	c.checkOwner("transport.Conn.Discard")
	if n < 0 {
		n = len(c.view)
	}
	if n > len(c.view) {
		n = len(c.view)
		c.consume(n)
		return n, io.ErrShortBuffer
	}
	c.consume(n)
	return n, nil
}

// consume drops n read bytes. Outside the conn's callbacks an emptied buffer is
// returned to the pool at the end of the round, not at once, because the caller
// may still be using the slice Next gave it.
func (c *Conn) consume(n int) {
	c.view = c.view[n:]
	if len(c.view) == 0 && c.in != nil && !c.reg.InCallback() {
		c.reg.AtRoundEnd()
	}
}

// Recv reads into p with pike's semantics: buffered bytes first, then one read;
// 0, nil when it would block (or p is empty); 0, io.EOF once the peer has shut its
// writing side. An error closes the conn and is returned. Loop goroutine only.
func (c *Conn) Recv(p []byte) (int, error) {
	c.checkOwner("transport.Conn.Recv")
	switch c.state {
	case Closed:
		return 0, ErrClosed
	case Connecting:
		return 0, nil
	}
	if len(c.view) > 0 {
		n := copy(p, c.view)
		c.consume(n)
		return n, nil
	}
	if c.flags&readEOF != 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		// A read into no room returns 0, which would read as the peer's EOF.
		return 0, nil
	}
	// A layer needs room of its own to read into (TLS decrypts whole records
	// in place): it reads into the conn's buffers, and what does not fit in p
	// stays buffered.
	layered := c.extra != nil && c.extra.io != nil
	var n int
	var err error
	if layered {
		n, err = c.readInto()
	} else {
		n, err = c.stream().read(c, p)
	}
	switch {
	case err == unix.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, c.fail("read", err)
	case n == 0:
		c.flags |= readEOF
		c.syncInterest()
		return 0, io.EOF
	}
	c.l.CountIO(n, 0)
	c.touch()
	c.flags |= received
	if layered {
		n = copy(p, c.view)
		c.view = c.view[n:]
		c.keepUnread()
	}
	return n, nil
}

// PauseRead stops reading (no OnData, read interest off) until ResumeRead, the
// asyncore readable() == False. Loop goroutine only.
func (c *Conn) PauseRead() {
	c.checkOwner("transport.Conn.PauseRead")
	c.flags |= userPaused
	c.syncInterest()
}

// ResumeRead undoes PauseRead. Bytes already buffered are offered to OnData at the
// end of the round, without waiting for more to arrive. Loop goroutine only.
func (c *Conn) ResumeRead() {
	c.checkOwner("transport.Conn.ResumeRead")
	if c.flags&userPaused == 0 {
		return
	}
	c.flags &^= userPaused
	c.readResumed()
}

// readResumed offers buffered input to OnData at the end of the round, if the
// conn reads again, and updates the interest.
func (c *Conn) readResumed() {
	if c.canRead() {
		if len(c.view) > 0 {
			c.flags |= dataPending
			c.reg.AtRoundEnd()
		}
		if c.flags&streamReady != 0 {
			c.reg.AtRoundEnd()
		}
	}
	c.syncInterest()
}
