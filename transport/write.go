package transport

import (
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/bufpool"
)

// Write queues a copy of p. Inside this conn's callbacks the queue is flushed with
// one syscall when the callback returns; anywhere else on the loop goroutine, at
// the end of the round. It fails only on a closed conn or after CloseWrite. Loop
// goroutine only.
func (c *Conn) Write(p []byte) (int, error) {
	c.checkOwner("transport.Conn.Write")
	if err := c.writeAllowed(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.owed.Add(int64(len(p)))
	c.push(p)
	return len(p), nil
}

// Writev queues copies of bufs, like one Write of their concatenation. Loop
// goroutine only.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	c.checkOwner("transport.Conn.Writev")
	if err := c.writeAllowed(); err != nil {
		return 0, err
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total == 0 {
		return 0, nil
	}
	c.owed.Add(int64(total))
	c.reserve(total)
	for _, b := range bufs {
		c.enqueue(b)
	}
	c.flushLater()
	return total, nil
}

func (c *Conn) writeAllowed() error {
	if c.state != Open && c.state != Connecting {
		return owedErr(c.owed.Load())
	}
	if c.flags&(writeShut|shutAfterFlush) != 0 {
		return ErrWriteShut
	}
	return nil
}

// reserve makes room for n more queued bytes, dropping the written prefix. The
// queue slides to the buffer's front only when what is left of it fills at most
// half the buffer, and grows otherwise: each byte is then moved a bounded number
// of times, however long the queue. (Sliding whenever the written prefix made
// room cost a move of the whole queue per write once a slow reader kept it just
// under the buffer's size.)
//
// A conn with an output limit grows its buffer to at most one and a half times
// the limit, then by a quarter of what it needs: past the limit it is closed at
// the round's end unless the kernel takes some, so a doubled buffer would mostly
// be room for nothing. A queue that cannot grow slides; under the cap it leaves
// room for at least half the limit, so a byte still moves at most twice.
func (c *Conn) reserve(n int) {
	if c.out == nil {
		c.out = bufpool.Get(n)
		return
	}
	buf := *c.out
	if cap(buf)-len(buf) >= n {
		return
	}
	off := c.outStart()
	live := len(buf) - off
	need := live + n
	size := max(need, 2*cap(buf))
	if limit := c.lim.Load().maxQueued; limit > 0 {
		size = min(size, max(need+need/4, limit+limit/2))
	}
	if need <= cap(buf)/2 || live == 0 && n <= cap(buf) || size <= cap(buf) {
		*c.out = buf[:copy(buf, buf[off:])]
		c.setOutStart(0)
		return
	}
	nb := queueBuffer(size)
	*nb = append(*nb, buf[off:]...)
	bufpool.Put(c.out)
	c.out = nb
	c.setOutStart(0)
}

// queueBuffer returns an empty buffer of capacity size: from the pool when size
// is one of its classes, made to measure otherwise (the pool would round it up
// to the next power of two).
func queueBuffer(size int) *[]byte {
	if size&(size-1) == 0 {
		return bufpool.Get(size)
	}
	b := make([]byte, 0, size)
	return &b
}

// outStart is where the unwritten part of the write queue begins.
func (c *Conn) outStart() int {
	if c.extra == nil {
		return 0
	}
	return c.extra.outOff
}

func (c *Conn) setOutStart(off int) {
	if off != 0 || c.extra != nil {
		c.more().outOff = off
	}
}

// dropOut gives the write queue's buffer back.
func (c *Conn) dropOut() {
	bufpool.Put(c.out)
	c.out = nil
	c.setOutStart(0)
}

// enqueue appends p to the write queue; the caller has counted it in owed.
func (c *Conn) enqueue(p []byte) {
	c.reserve(len(p))
	*c.out = append(*c.out, p...)
	if c.extra != nil {
		c.extra.queued += uint64(len(p))
	}
}

// Queued returns how many bytes wait in the write queue: written with Write but
// not yet taken by the kernel. Loop goroutine only.
func (c *Conn) Queued() int {
	c.checkOwner("transport.Conn.Queued")
	return c.queuedBytes()
}

// queuedBytes is how many bytes wait to be written.
func (c *Conn) queuedBytes() int {
	if c.out == nil {
		return 0
	}
	return len(*c.out) - c.outStart()
}

// flushLater makes sure a flush follows: when the running callback of this conn
// returns, or at the end of the round.
func (c *Conn) flushLater() {
	if c.state != Connecting && !c.reg.InCallback() {
		c.reg.AtRoundEnd()
	}
}

// Flush writes the queue now (one syscall) instead of when the handler returns.
// What the socket does not take stays queued. It returns ErrClosed if the conn is
// closed, including by an error found while writing. Loop goroutine only.
func (c *Conn) Flush() error {
	c.checkOwner("transport.Conn.Flush")
	if c.state != Open && c.state != Closing {
		return ErrClosed
	}
	if c.writePending() {
		c.flush()
	}
	if c.state == Closed {
		return ErrClosed
	}
	if !c.reg.InCallback() {
		c.afterWrite()
		if c.state == Closed {
			return owedErr(c.owed.Load()) // closed for its output limit
		}
		c.syncInterest()
	}
	return nil
}

// flush makes one write of the queue. On an error the conn closes with it.
// When the kernel takes less than the whole queue (EAGAIN or a short write) its
// buffer is full, so the rest stays queued, the conn is marked writeBlocked and
// no further write is tried until a Writable event: a second write now would only
// return EAGAIN.
func (c *Conn) flush() {
	var p []byte
	off := c.outStart()
	if c.out != nil {
		p = (*c.out)[off:]
	}
	n, err := c.stream().write(c, p)
	if err != nil && err != unix.EAGAIN {
		c.fail("write", err)
		return
	}
	if n > 0 {
		c.owed.Add(-int64(n))
		if off+n == len(*c.out) {
			c.dropOut()
		} else {
			c.setOutStart(off + n)
		}
		c.wrote(n)
	}
	if c.writePending() {
		c.flags |= writeBlocked
	} else {
		c.flags &^= writeBlocked
	}
}

// wrote accounts for n bytes that reached the kernel: idle clock, and the
// AsyncWrite callbacks whose bytes are now all written.
func (c *Conn) wrote(n int) {
	c.l.CountIO(0, n)
	x := c.extra
	if x == nil {
		return
	}
	if x.idle.after > 0 {
		x.idle.lastActive = c.l.Now()
	}
	x.written += uint64(n)
	for len(x.pending) > 0 && x.pending[0].end <= x.written {
		callback := x.pending[0].callback
		x.pending[0] = completion{}
		x.pending = x.pending[1:]
		callback(nil)
	}
}

// afterWrite applies what depends on the queue's size: the water marks, and a
// Close or CloseWrite that waited for the queue to drain.
func (c *Conn) afterWrite() {
	queued, lim := c.queuedBytes(), c.lim.Load()
	if (lim.maxQueued > 0 || lim.softQueued > 0) && c.checkLimits() {
		return
	}
	if c.flags&waterPaused != 0 && queued < lim.lowWater {
		c.flags &^= waterPaused
		c.readResumed()
	} else if lim.highWater >= 0 && queued > lim.highWater {
		c.flags |= waterPaused
	}
	if c.writePending() {
		return
	}
	if c.state == Closing {
		if s := c.tlsLayer(); s != nil && !s.notified {
			// close_notify goes after everything queued, before the close.
			if err := s.closeNotify(c); err != nil {
				c.fail("tls close_notify", err)
				return
			}
			if c.writePending() {
				return // written on Writable; afterWrite runs again then
			}
		}
		c.finish(nil)
		return
	}
	if c.flags&shutAfterFlush != 0 {
		c.flags = c.flags&^shutAfterFlush | writeShut
		if err := c.stream().closeWrite(c); err != nil {
			c.fail("shutdown", err)
		}
	}
}

// Send writes p at once with pike's semantics: it returns how many bytes the
// socket took, or 0 (and a nil error) when it would block, in which case exactly
// one OnWritable follows once the socket can take more. Bytes queued by Write go
// first. Over TLS, Send takes all of p or none: what the kernel does not take of
// its records is written on Writable, and Send returns 0 until it is. An error
// closes the conn and is returned. Loop goroutine only.
func (c *Conn) Send(p []byte) (int, error) {
	c.checkOwner("transport.Conn.Send")
	switch {
	case c.state == Connecting:
		c.armWritable()
		return 0, nil
	case c.state != Open:
		return 0, ErrClosed
	case c.flags&(writeShut|shutAfterFlush) != 0:
		return 0, ErrWriteShut
	}
	if c.writePending() {
		if c.flags&writeBlocked == 0 {
			c.flush()
			if c.state == Closed {
				return 0, ErrClosed
			}
		}
		if c.writePending() {
			c.armWritable()
			return 0, nil
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.extra != nil && c.extra.io != nil {
		// A layer writes whole records: it takes all of p (through the queue,
		// flushed now), and a later Send returns 0 until all of it is written.
		c.Write(p)
		c.flush()
		if c.state == Closed {
			return 0, ErrClosed
		}
		c.syncInterest()
		return len(p), nil
	}
	n, err := c.stream().write(c, p)
	switch {
	case err == unix.EAGAIN:
		c.armWritable()
		return 0, nil
	case err != nil:
		return 0, c.fail("write", err)
	}
	if c.extra != nil {
		c.extra.queued += uint64(n) // Send bypasses the queue: keep the offsets aligned
	}
	c.wrote(n)
	return n, nil
}

// DeferWrite asks for exactly one OnWritable, the next time the socket can take
// more bytes (pike's defer_write). Loop goroutine only.
func (c *Conn) DeferWrite() error {
	c.checkOwner("transport.Conn.DeferWrite")
	if c.state == Closed || c.state == Closing {
		return ErrClosed
	}
	c.armWritable()
	return nil
}

// armWritable arms the registration's one-shot write notification: OnWritable
// follows once the socket can take more bytes and the queue is empty.
func (c *Conn) armWritable() {
	c.reg.DeferWrite()
}

// AsyncWrite queues p on the conn from any goroutine. done, if not nil, runs
// exactly once: with nil, on the loop goroutine, once all of p is in the
// kernel's send buffer, or with the error that closed the conn first. p must not
// be changed until done runs (or, with a nil done, until the conn closes).
//
// AsyncWrite refuses without queueing anything, running done with the error
// before it returns it, when the conn is closed (ErrClosed, or ErrSlowConsumer
// if it was closed for its output limit), when the loop has stopped
// (ErrClosed), and when p would take what the conn owes beyond
// Config.MaxQueued: the conn is then closed as a slow consumer and AsyncWrite
// returns ErrSlowConsumer. A publisher can so stop writing to a peer that does
// not read without waiting for anything. Safe from any goroutine.
func (c *Conn) AsyncWrite(p []byte, done func(error)) error {
	owed := c.owed.Add(int64(len(p)))
	if owed&(owedSlow|owedClosed) != 0 {
		return refuse(owedErr(owed), done)
	}
	if limit := c.lim.Load().maxQueued; limit > 0 && owed&owedBytes > int64(limit) {
		c.owed.Add(-int64(len(p))) // refused: Pending does not count it
		if c.markOwed(owedSlow) {
			c.l.Submit(c.slowConsumer) // a stopped loop has closed the conn anyway
		}
		return refuse(ErrSlowConsumer, done)
	}
	if err := c.l.Submit(func() { c.asyncWrite(p, done) }); err != nil {
		c.owed.Add(-int64(len(p)))
		return refuse(ErrClosed, done)
	}
	return nil
}

// refuse runs done, if any, with err, and returns err.
func refuse(err error, done func(error)) error {
	if done != nil {
		done(err)
	}
	return err
}

// asyncWrite queues an AsyncWrite's p on the loop; p is counted in owed already.
// On a stopping loop, a conn whose peer takes nothing more, or that has more
// queued than its last flush can write, gets nothing more queued: a publisher
// that ran ahead of a stalled peer would otherwise make Close copy all it sent
// (4.6 million 1 KiB writes took Close 12.5 s).
func (c *Conn) asyncWrite(p []byte, done func(error)) {
	err := c.writeAllowed()
	if err == nil && c.l.Stopping() && (c.flags&writeBlocked != 0 || c.queuedBytes() > DefaultHighWater) {
		err = ErrClosed
	}
	if err != nil {
		if c.state != Closed {
			c.owed.Add(-int64(len(p))) // refused: it will not be written
		}
		if done != nil {
			done(err)
		}
		return
	}
	if done == nil {
		c.push(p)
		return
	}
	x := c.more()
	if len(x.pending) == 0 {
		// Offsets count from here: everything queued before is "written" already as
		// far as these callbacks are concerned.
		x.queued, x.written = uint64(c.queuedBytes()), 0
	}
	c.push(p)
	x.pending = append(x.pending, completion{end: x.queued, callback: done})
	if len(p) == 0 && c.out == nil {
		c.wrote(0)
	}
}

// push queues p, already counted in owed, and makes sure a flush follows.
func (c *Conn) push(p []byte) {
	if len(p) > 0 {
		c.enqueue(p)
		c.flushLater()
	}
}

// failPending runs every waiting AsyncWrite callback with err.
func (c *Conn) failPending(err error) {
	if c.extra == nil {
		return
	}
	pending := c.extra.pending
	c.extra.pending = nil
	for _, p := range pending {
		p.callback(err)
	}
}
