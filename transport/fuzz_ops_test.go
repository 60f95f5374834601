//go:build linux

package transport_test

import (
	"bytes"
	"errors"
	"io"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/transport"
)

// The ops of FuzzConnBuffers (fuzz_test.go), each checked against the model, and
// the fake read(2), send(2) and shutdown(2) that serve the script.

// do runs one op on the conn and checks the result.
func (r *fzRun) do(op fzOp) {
	c := r.c
	switch op.kind {
	case fzPeek:
		r.peek(fzN(op.arg, r.in.Len()))
	case fzNext:
		r.next(fzN(op.arg, r.in.Len()))
	case fzDiscard:
		r.discard(fzN(op.arg, r.in.Len()))
	case fzAll:
		switch op.arg % 3 {
		case 0:
			r.peek(-1)
		case 1:
			r.next(-1)
		default:
			r.discard(-1)
		}
	case fzWrite:
		r.writeOne(r.payload(fzWriteLen(op.arg)))
	case fzWritev:
		r.writev(r.payload(fzWriteLen(op.arg)))
	case fzEcho:
		if b := r.next(fzN(op.arg, r.in.Len())); len(b) > 0 {
			r.writeOne(b)
		}
	case fzAppend:
		// An append to a slice with no spare capacity copies it; one to a slice
		// that had some would write over the bytes after it, which the next
		// check of the unread bytes would see.
		_ = append(r.peek(fzN(op.arg, r.in.Len())), fzJunk[:]...)
	case fzFlush:
		// Flush fails only on a conn closed before it, or by its own write error;
		// a graceful close that it completes is no failure.
		closedBefore := r.closed
		err := c.Flush()
		var want error
		if closedBefore || (r.closed && r.state == fzDead) {
			want = transport.ErrClosed
		}
		if err != want {
			r.fail("Flush() = %v, want %v", err, want)
		}
	case fzClose:
		var want error
		if r.closed {
			want = transport.ErrClosed
		} else if r.state == fzOpen {
			r.state = fzClosing
		}
		if err := c.Close(); err != want {
			r.fail("Close() = %v, want %v", err, want)
		}
	case fzRecv:
		r.recv(fzWriteLen(op.arg))
	case fzSend:
		r.send(r.payload(fzWriteLen(op.arg)))
	case fzPause:
		if op.arg%2 == 0 {
			r.paused = true
			c.PauseRead()
		} else {
			r.paused = false
			c.ResumeRead()
		}
	case fzAsyncWrite:
		r.asyncWrite(bytes.Clone(r.payload(fzWriteLen(op.arg))))
	case fzAbort:
		var want error
		if r.closed {
			want = transport.ErrClosed
		} else {
			r.state = fzDead
		}
		if err := c.Abort(); err != want {
			r.fail("Abort() = %v, want %v", err, want)
		}
	case fzCloseWrite:
		var want error
		if r.closed || r.state != fzOpen {
			want = transport.ErrClosed
		}
		if err := c.CloseWrite(); err != want {
			r.fail("CloseWrite() = %v, want %v", err, want)
		}
		if want == nil {
			r.writeShut = true
		}
	case fzAsyncClose:
		if err := r.l.Submit(func() {
			if r.state == fzOpen && !r.closed {
				r.state = fzClosing
			}
		}); err != nil {
			r.fail("Submit: %v", err)
		}
		if err := c.AsyncClose(); err != nil {
			r.fail("AsyncClose() = %v", err)
		}
	}
	r.checkWire()
}

func (r *fzRun) peek(n int) []byte {
	if !r.checkBuffered() {
		return nil
	}
	got, err := r.c.Peek(n)
	all := r.in.Bytes()
	want, wantErr := all, error(nil)
	switch {
	case n > len(all):
		wantErr = io.ErrShortBuffer
	case n >= 0:
		want = all[:n]
	}
	if err != wantErr || !bytes.Equal(got, want) {
		r.fail("Peek(%d) with %d buffered = %d bytes, %v; want %d bytes, %v (first difference at %d)",
			n, len(all), len(got), err, len(want), wantErr, fzDiff(got, want))
	}
	if cap(got) != len(got) {
		r.fail("Peek(%d) returned %d bytes with capacity %d: an append would overwrite the buffer", n, len(got), cap(got))
	}
	r.hold(got)
	return got
}

func (r *fzRun) next(n int) []byte {
	if !r.checkBuffered() {
		return nil
	}
	buffered := r.in.Len()
	got, err := r.c.Next(n)
	var want []byte
	var wantErr error
	switch {
	case n > buffered:
		wantErr = io.ErrShortBuffer
	case n < 0:
		want = r.in.Next(buffered)
	default:
		want = r.in.Next(n)
	}
	if err != wantErr || !bytes.Equal(got, want) {
		r.fail("Next(%d) with %d buffered = %d bytes, %v; want %d bytes, %v (first difference at %d)",
			n, buffered, len(got), err, len(want), wantErr, fzDiff(got, want))
	}
	if cap(got) != len(got) {
		r.fail("Next(%d) returned %d bytes with capacity %d: an append would overwrite the buffer", n, len(got), cap(got))
	}
	r.hold(got)
	return got
}

func (r *fzRun) discard(n int) {
	if !r.checkBuffered() {
		return
	}
	buffered := r.in.Len()
	got, err := r.c.Discard(n)
	want, wantErr := n, error(nil)
	switch {
	case n < 0:
		want = buffered
	case n > buffered:
		want, wantErr = buffered, io.ErrShortBuffer
	}
	r.in.Next(want)
	if got != want || err != wantErr {
		r.fail("Discard(%d) with %d buffered = %d, %v; want %d, %v", n, buffered, got, err, want, wantErr)
	}
}

func (r *fzRun) writeOne(p []byte) {
	wantErr := r.wantWriteErr()
	n, err := r.c.Write(p)
	if err != wantErr || (err == nil && n != len(p)) || (err != nil && n != 0) {
		r.fail("Write(%d bytes) = %d, %v; want %v", len(p), n, err, wantErr)
		return
	}
	if err == nil {
		r.out = append(r.out, p...)
	}
}

// writev writes p in three pieces, the middle one empty.
func (r *fzRun) writev(p []byte) {
	wantErr := r.wantWriteErr()
	half := len(p) / 2
	n, err := r.c.Writev([][]byte{p[:half], nil, p[half:]})
	if err != wantErr || (err == nil && n != len(p)) || (err != nil && n != 0) {
		r.fail("Writev(%d bytes) = %d, %v; want %v", len(p), n, err, wantErr)
		return
	}
	if err == nil {
		r.out = append(r.out, p...)
	}
}

func (r *fzRun) send(p []byte) {
	wantErr := r.wantWriteErr()
	n, err := r.c.Send(p)
	switch {
	case wantErr != nil:
		if err != wantErr || n != 0 {
			r.fail("Send(%d bytes) = %d, %v; want 0, %v", len(p), n, err, wantErr)
		}
		return
	case err != nil:
		if r.state != fzDead || n != 0 {
			r.fail("Send(%d bytes) = %d, %v with no write error", len(p), n, err)
		}
		return
	case n < 0 || n > len(p):
		r.fail("Send(%d bytes) = %d", len(p), n)
		return
	}
	r.out = append(r.out, p[:n]...)
}

// recv checks Recv: the buffered bytes first, else what one read(2) gives.
func (r *fzRun) recv(size int) {
	if !r.checkBuffered() {
		return
	}
	p := make([]byte, size)
	closed, buffered, readEOF, reads := r.closed, r.in.Len(), r.readEOF, r.reads
	r.inRecv = true
	n, err := r.c.Recv(p)
	r.inRecv = false
	var wantN int
	var wantErr error
	switch {
	case closed:
		wantErr = transport.ErrClosed
	case buffered > 0:
		wantN = min(size, buffered)
	case readEOF:
		wantErr = io.EOF
	case size == 0:
		// Nothing buffered and no room: (0, nil) without a read(2).
		if r.reads != reads {
			r.fail("Recv(0 bytes) made a read(2)")
			return
		}
	case r.reads == reads:
		r.fail("Recv(%d bytes) with nothing buffered made no read(2)", size)
		return
	case r.lastRead.err == unix.EAGAIN:
	case r.lastRead.err != nil:
		if !errors.Is(err, r.lastRead.err) || n != 0 {
			r.fail("Recv(%d bytes) = %d, %v after read(2) failed with %v", size, n, err, r.lastRead.err)
		}
		return
	case r.lastRead.n > 0:
		wantN = r.lastRead.n
	case r.readEOF:
		wantErr = io.EOF
	default:
		// read(2) into an empty buffer returned 0: that is no EOF.
	}
	if n != wantN || err != wantErr {
		r.fail("Recv(%d bytes) with %d buffered = %d, %v; want %d, %v", size, buffered, n, err, wantN, wantErr)
		return
	}
	if want := r.in.Next(n); !bytes.Equal(p[:n], want) {
		r.fail("Recv(%d bytes) returned the wrong bytes (first difference at %d)", size, fzDiff(p[:n], want))
	}
}

// asyncWrite queues p with AsyncWrite. A task submitted just before it lets the
// model append p at the moment the conn does (they run back to back). On a
// closed conn AsyncWrite refuses at once: done runs before it returns.
func (r *fzRun) asyncWrite(p []byte) {
	if r.closed {
		calls := 0
		err := r.c.AsyncWrite(p, func(err error) {
			if calls++; err != transport.ErrClosed {
				r.fail("AsyncWrite on a closed conn: done(%v), want ErrClosed", err)
			}
		})
		if err != transport.ErrClosed || calls != 1 {
			r.fail("AsyncWrite on a closed conn = %v with done run %d times; want ErrClosed, once", err, calls)
		}
		return
	}
	a := &fzAsync{}
	r.async = append(r.async, a)
	if err := r.l.Submit(func() {
		a.ran = true
		if a.wantErr = r.wantWriteErr(); a.wantErr == nil {
			r.out = append(r.out, p...)
			a.end = len(r.out)
		}
	}); err != nil {
		r.fail("Submit: %v", err)
	}
	err := r.c.AsyncWrite(p, func(err error) {
		a.calls++
		switch {
		case !a.ran:
			r.fail("AsyncWrite callback ran (%v) before its task", err)
		case a.calls > 1:
			r.fail("AsyncWrite callback ran %d times", a.calls)
		case a.wantErr != nil:
			if err != a.wantErr {
				r.fail("AsyncWrite refused with %v, want %v", err, a.wantErr)
			}
		case err == nil:
			if len(r.wire) < a.end {
				r.fail("AsyncWrite done(nil) with %d bytes written, its bytes end at %d", len(r.wire), a.end)
			}
		case len(r.wire) >= a.end:
			r.fail("AsyncWrite done(%v) although its bytes were written", err)
		case r.state == fzOpen:
			r.fail("AsyncWrite done(%v) on an open conn", err)
		}
	})
	if err != nil {
		r.fail("AsyncWrite() = %v", err)
	}
}

// read is the fake read(2) on the conn's fd.
func (r *fzRun) read(p []byte) (int, error) {
	if !r.inRecv && (r.closed || r.state != fzOpen || r.paused || r.readEOF) {
		r.fail("read(2) by a conn that must not read: state %d, closed %v, paused %v, EOF %v",
			r.state, r.closed, r.paused, r.readEOF)
	}
	r.reads++
	n, err := r.kernelRead(p)
	r.lastRead = fzResult{n, err}
	return n, err
}

func (r *fzRun) kernelRead(p []byte) (int, error) {
	switch {
	case r.intrRead:
		r.intrRead = false
		return 0, unix.EINTR
	case r.readErr != nil:
		err := r.readErr
		r.readErr, r.state = nil, fzDead
		return 0, err
	case len(p) == 0:
		return 0, nil // as the kernel does: nothing asked, nothing read, no EOF
	case r.arrived == r.delivered && r.peerShut:
		r.readEOF = true
		if !r.inRecv && !r.eofHandler && r.state == fzOpen {
			r.state = fzClosing // without OnEOF the conn closes itself
		}
		return 0, nil
	case r.arrived == r.delivered:
		return 0, unix.EAGAIN
	}
	n := min(len(p), r.arrived-r.delivered)
	if r.readCap > 0 {
		n = min(n, r.readCap)
	}
	for i := range p[:n] {
		p[i] = fzInByte(r.delivered + i)
	}
	r.delivered += n
	r.in.Write(p[:n])
	return n, nil
}

// write is the fake write(2) on the conn's fd.
func (r *fzRun) write(p []byte) (int, error) {
	switch {
	case r.closed || r.shutDown:
		r.fail("write(2) of %d bytes after close or shutdown", len(p))
	case len(p) == 0:
		r.fail("write(2) of nothing")
	}
	switch {
	case r.intrWrite:
		r.intrWrite = false
		return 0, unix.EINTR
	case r.writeErr != nil:
		err := r.writeErr
		r.writeErr, r.state = nil, fzDead
		return 0, err
	case r.writeCap == 0:
		return 0, unix.EAGAIN
	}
	n := len(p)
	if r.writeCap > 0 {
		n = min(n, r.writeCap)
	}
	r.wire = append(r.wire, p[:n]...)
	return n, nil
}

// shutdown is the fake shutdown(2) on the conn's fd: CloseWrite must have had
// everything written first.
func (r *fzRun) shutdown() {
	if len(r.wire) != len(r.out) {
		r.fail("shutdown with %d of %d bytes written", len(r.wire), len(r.out))
	}
	r.shutDown = true
}

// fzHandler runs the current step's ops in OnData and checks the callbacks.
type fzHandler struct{ r *fzRun }

func (h *fzHandler) OnOpen(*transport.Conn) {}

func (h *fzHandler) OnData(c *transport.Conn) {
	r := h.r
	r.onData++
	if r.closed || r.state != fzOpen || r.paused {
		r.fail("OnData on a conn that must not read: state %d, closed %v, paused %v", r.state, r.closed, r.paused)
	}
	if c.Buffered() == 0 {
		r.fail("OnData with nothing buffered")
	}
	r.checkContent("OnData")
	ops := r.ops
	r.ops = nil
	for _, op := range ops {
		if r.failures > 0 {
			break
		}
		r.do(op)
	}
	r.checkHeld("OnData")
}

func (h *fzHandler) OnWritable(*transport.Conn) {}

func (h *fzHandler) OnClose(c *transport.Conn, err error) {
	r := h.r
	if r.closed {
		r.fail("OnClose(%v) ran twice", err)
	}
	r.closed = true
	switch r.state {
	case fzOpen:
		r.fail("OnClose(%v) on a conn that should be open", err)
	case fzClosing:
		if err != nil {
			r.fail("OnClose(%v) after a graceful close", err)
		}
		if len(r.wire) != len(r.out) {
			r.fail("graceful close with %d of %d bytes written", len(r.wire), len(r.out))
		}
	case fzDead:
		if err == nil {
			r.fail("OnClose(nil) after an error or Abort")
		}
	}
}

// fzEOFHandler adds OnEOF: the conn stays open after the peer's EOF.
type fzEOFHandler struct{ *fzHandler }

func (h fzEOFHandler) OnEOF(*transport.Conn) {
	if !h.r.readEOF {
		h.r.fail("OnEOF before read(2) returned EOF")
	}
}
