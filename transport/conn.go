package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/bufpool"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
)

// connFlags is a Conn's small state, one bit each.
type connFlags uint16

const (
	inHandler      connFlags = 1 << iota // HandleEvent or OnRoundEnd is running: flush when it returns
	userPaused                           // PauseRead
	waterPaused                          // the write queue went above HighWater
	readEOF                              // the peer shut its writing side
	wantWritable                         // an OnWritable is owed (DeferWrite, blocked Send)
	writeShut                            // shutdown(SHUT_WR) was issued
	shutAfterFlush                       // CloseWrite waits for the queue to drain
	atRoundEnd                           // OnRoundEnd is scheduled
	dataPending                          // buffered input must be offered to OnData (after ResumeRead)
	writeBlocked                         // the kernel took less than the queue: wait for Writable
	throttled                            // Throttle: paused on the handler's behalf by an engine
)

// Conn is a connected stream socket registered on one loop. Create it with NewConn,
// Dial, or through a Listener.
type Conn struct {
	l         *loop.Loop
	h         Handler
	fd        int32
	state     State
	interest  poller.Interest // as last given to the loop
	flags     connFlags
	highWater int32 // < 0: never pause
	lowWater  int32

	// view holds the unread input: a window on the loop's shared read buffer while
	// OnData runs, or on in (a pooled buffer) when the handler left bytes unread.
	view []byte
	in   *[]byte
	// out is the write queue (pooled); (*out)[outOff:] is still to be written.
	out    *[]byte
	outOff int

	extra *connExtra // rarely used state, allocated on first use
	ctx   any
}

// connExtra holds state most conns never need, so that they do not pay for it.
type connExtra struct {
	local, remote net.Addr

	idle       time.Duration
	idleTimer  loop.Timer
	lastActive time.Time

	// AsyncWrite accounting: byte offsets in the stream of everything queued and
	// everything written, and the callbacks waiting for an offset to be written.
	queued, written uint64
	pending         []completion
}

type completion struct {
	end  uint64
	done func(error)
}

func (c *Conn) more() *connExtra {
	if c.extra == nil {
		c.extra = &connExtra{}
	}
	return c.extra
}

// Fd returns the socket fd. Safe from any goroutine; the fd is closed after OnClose.
func (c *Conn) Fd() int { return int(c.fd) }

// Loop returns the loop the conn lives on. Safe from any goroutine.
func (c *Conn) Loop() *loop.Loop { return c.l }

// State returns the conn's state. Loop goroutine only.
func (c *Conn) State() State { return c.state }

// Context returns the value stored with SetContext. Loop goroutine only.
func (c *Conn) Context() any { return c.ctx }

// SetContext stores a value with the conn for its handler. Loop goroutine only.
func (c *Conn) SetContext(v any) { c.ctx = v }

// LocalAddr returns the conn's local address (looked up once). Loop goroutine only.
func (c *Conn) LocalAddr() net.Addr {
	x := c.more()
	if x.local == nil {
		if sa, err := unix.Getsockname(int(c.fd)); err == nil {
			x.local = sockaddrToAddr(sa)
		}
	}
	return x.local
}

// RemoteAddr returns the peer's address (looked up once). Loop goroutine only.
func (c *Conn) RemoteAddr() net.Addr {
	x := c.more()
	if x.remote == nil {
		if sa, err := unix.Getpeername(int(c.fd)); err == nil {
			x.remote = sockaddrToAddr(sa)
		}
	}
	return x.remote
}

// NewConn adopts fd, a connected stream socket, as a Conn on l: it makes the fd
// non-blocking and close-on-exec, applies cfg, registers it for reading and calls
// OnOpen (the pike Transport's set_socket). On error the fd is still the caller's.
// Loop goroutine only (or before the loop runs).
func NewConn(l *loop.Loop, fd int, h Handler, cfg Config) (*Conn, error) {
	if fd < 0 {
		return nil, fmt.Errorf("transport: NewConn: bad fd %d", fd)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("transport: NewConn: %w", err)
	}
	unix.CloseOnExec(fd)
	return newConn(l, fd, h, &cfg, Open)
}

// Adopt is NewConn for an fd that is already non-blocking and close-on-exec, as
// every fd that a Listener accepts (and ServeFunc hands out) is: it skips the
// fcntl calls that NewConn makes to be sure. Loop goroutine only (or before the
// loop runs).
func Adopt(l *loop.Loop, fd int, h Handler, cfg Config) (*Conn, error) {
	if fd < 0 {
		return nil, fmt.Errorf("transport: Adopt: bad fd %d", fd)
	}
	return newConn(l, fd, h, &cfg, Open)
}

func newConn(l *loop.Loop, fd int, h Handler, cfg *Config, state State) (*Conn, error) {
	if h == nil {
		return nil, errors.New("transport: nil Handler")
	}
	c := &Conn{l: l, h: h, fd: int32(fd), state: state}
	c.setWaterMarks(cfg)
	if err := setSockopts(fd, cfg); err != nil {
		return nil, err
	}
	var in poller.Interest
	switch state {
	case Open:
		in = poller.Readable
	case Connecting:
		in = poller.Writable
	}
	if err := l.Register(c, in); err != nil {
		return nil, fmt.Errorf("transport: register: %w", err)
	}
	c.interest = in
	if cfg.IdleTimeout > 0 {
		c.SetIdleTimeout(cfg.IdleTimeout)
	}
	if state == Open {
		c.opened()
	}
	return c, nil
}

func (c *Conn) setWaterMarks(cfg *Config) {
	high := cfg.HighWater
	switch {
	case high == 0:
		high = DefaultHighWater
	case high < 0:
		c.highWater, c.lowWater = -1, 0
		return
	}
	low := cfg.LowWater
	if low <= 0 || low > high {
		low = high / 2
	}
	c.highWater, c.lowWater = int32(min(high, 1<<30)), int32(min(low, 1<<30))
}

// opened runs OnOpen and flushes what it wrote.
func (c *Conn) opened() {
	c.flags |= inHandler
	c.guard(func() { c.h.OnOpen(c) })
	c.flags &^= inHandler
	c.settle()
}

// guard runs a handler callback that is not inside this conn's HandleEvent (where
// the loop itself recovers): a panic is reported to the loop and closes this conn.
func (c *Conn) guard(f func()) {
	defer func() {
		if r := recover(); r != nil {
			err := &loop.PanicError{Value: r, Stack: debug.Stack()}
			c.l.HandleError(c, err)
			c.Finalize(err)
		}
	}()
	f()
}

// HandleEvent is the conn's loop.Target method: read, write and notify as the
// event says, then flush what the handler queued with one syscall. Loop goroutine
// only (the loop calls it).
func (c *Conn) HandleEvent(ev poller.Event) {
	switch c.state {
	case Closed:
		return
	case Connecting:
		c.connectDone(ev)
		return
	}
	c.flags |= inHandler
	if ev.Ready&(poller.Readable|poller.ReadHangup|poller.Hangup|poller.Error) != 0 && c.canRead() {
		c.readOnce()
	}
	if c.state != Closed && ev.Ready&(poller.Writable|poller.Hangup|poller.Error) != 0 {
		c.writable()
	}
	c.flags &^= inHandler
	c.settle()
}

// canRead reports whether the conn wants input now.
func (c *Conn) canRead() bool {
	return c.state == Open && c.flags&(userPaused|throttled|waterPaused|readEOF) == 0
}

// readOnce does one read(2) per readable event (a per-event budget, so one
// firehose conn cannot starve the others) and offers the bytes to OnData.
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
	c.h.OnData(c)
	c.keepUnread()
}

// readInto reads into the loop's shared buffer, after the bytes the handler left
// unread if there are few of them, or into the conn's own buffer when there are
// many. On success c.view holds every unread byte.
func (c *Conn) readInto() (int, error) {
	rb := c.l.ReadBuffer()
	left := len(c.view)
	if left <= len(rb)/2 {
		n, err := readFd(int(c.fd), rb[left:])
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
	if cap(buf)-len(buf) < len(rb)/2 {
		c.in = bufpool.Grow(c.in, max(len(buf), len(rb)))
		buf = *c.in
	}
	n, err := readFd(int(c.fd), buf[len(buf):cap(buf)])
	if n <= 0 {
		c.view = buf
		return n, err
	}
	c.view = buf[:len(buf)+n]
	return n, nil
}

func readFd(fd int, p []byte) (int, error) {
	for {
		n, err := sys.Read(fd, p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

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

// writable handles a Writable (or error) event: write the queue, then, if one is
// owed and the queue is empty, call OnWritable.
func (c *Conn) writable() {
	c.flags &^= writeBlocked
	if c.out != nil {
		c.flush()
		if c.state == Closed || c.out != nil {
			return
		}
	}
	if c.flags&wantWritable != 0 {
		c.flags &^= wantWritable
		c.h.OnWritable(c)
	}
}

// Buffered returns how many unread bytes Peek, Next and Discard can see. Loop
// goroutine only.
func (c *Conn) Buffered() int { return len(c.view) }

// Peek returns the next n unread bytes without consuming them (all of them when n
// < 0). With fewer than n buffered it returns what there is and
// io.ErrShortBuffer. The slice is valid until the handler returns. Loop goroutine
// only.
func (c *Conn) Peek(n int) ([]byte, error) {
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

// consume drops n read bytes. Outside a handler an emptied buffer is returned to
// the pool at the end of the round, not at once, because the caller may still be
// using the slice Next gave it.
func (c *Conn) consume(n int) {
	c.view = c.view[n:]
	if len(c.view) == 0 && c.in != nil && c.flags&inHandler == 0 {
		c.scheduleRoundEnd()
	}
}

// Recv reads into p with pike's semantics: buffered bytes first, then one read(2);
// 0, nil when it would block (or p is empty); 0, io.EOF once the peer has shut its
// writing side. An error closes the conn and is returned. Loop goroutine only.
func (c *Conn) Recv(p []byte) (int, error) {
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
		// read(2) into no room returns 0, which would read as the peer's EOF.
		return 0, nil
	}
	n, err := readFd(int(c.fd), p)
	switch {
	case err == unix.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, c.fail("read", err)
	case n == 0:
		c.flags |= readEOF
		c.syncLater()
		return 0, io.EOF
	}
	c.l.CountIO(n, 0)
	c.touch()
	return n, nil
}

// PauseRead stops reading (no OnData, read interest off) until ResumeRead, the
// asyncore readable() == False. Loop goroutine only.
func (c *Conn) PauseRead() {
	c.flags |= userPaused
	c.syncLater()
}

// ResumeRead undoes PauseRead. Bytes already buffered are offered to OnData at the
// end of the round, without waiting for more to arrive. Loop goroutine only.
func (c *Conn) ResumeRead() {
	if c.flags&userPaused == 0 {
		return
	}
	c.flags &^= userPaused
	c.readResumed()
}

// Throttle stops reading as PauseRead does, but apart from it: the conn reads
// again only once neither PauseRead nor Throttle is in force. It is for code that
// manages conns on their handler's behalf (shard throttles a conn whose offloads
// are overloaded), so that its pause and the handler's cannot undo each other.
// Loop goroutine only.
func (c *Conn) Throttle() {
	c.flags |= throttled
	c.syncLater()
}

// Unthrottle undoes Throttle; buffered bytes are offered again as after
// ResumeRead. Loop goroutine only.
func (c *Conn) Unthrottle() {
	if c.flags&throttled == 0 {
		return
	}
	c.flags &^= throttled
	c.readResumed()
}

// Handler returns the conn's handler. Loop goroutine only.
func (c *Conn) Handler() Handler { return c.h }

func (c *Conn) readResumed() {
	if len(c.view) > 0 && c.canRead() {
		c.flags |= dataPending
		c.scheduleRoundEnd()
	}
	c.syncLater()
}

// syncLater brings the loop's interest in line now, or when the running handler
// returns.
func (c *Conn) syncLater() {
	if c.flags&inHandler == 0 {
		c.syncInterest()
	}
}

func (c *Conn) scheduleRoundEnd() {
	if c.flags&atRoundEnd == 0 {
		c.flags |= atRoundEnd
		c.l.AtRoundEnd(c)
	}
}

// OnRoundEnd is the conn's loop.RoundEnder method: the loop calls it at the end of
// a round in which the conn asked (writes queued outside its own handler, reading
// resumed with input buffered). Handlers never need to call it.
func (c *Conn) OnRoundEnd() {
	c.flags &^= atRoundEnd
	if c.state == Closed {
		return
	}
	c.flags |= inHandler
	if c.flags&dataPending != 0 {
		c.flags &^= dataPending
		if len(c.view) > 0 && c.canRead() {
			c.h.OnData(c)
		}
	}
	c.keepUnread()
	c.flags &^= inHandler
	c.settle()
}

// settle runs after every handler call: flush the queue, apply the water marks and
// pending closes, and give the loop the interest the conn now needs.
func (c *Conn) settle() {
	if c.state == Closed {
		return
	}
	if c.out != nil && c.state != Connecting && c.flags&writeBlocked == 0 {
		c.flush()
		if c.state == Closed {
			return
		}
	}
	c.afterWrite()
	if c.state != Closed {
		c.syncInterest()
	}
}

// syncInterest tells the loop what the conn needs: Readable while it wants input,
// Writable while bytes are queued or an OnWritable is owed.
func (c *Conn) syncInterest() {
	var want poller.Interest
	switch c.state {
	case Closed:
		return
	case Connecting:
		want = poller.Writable
	default:
		if c.canRead() {
			want |= poller.Readable
		}
		if c.out != nil || c.flags&wantWritable != 0 {
			want |= poller.Writable
		}
	}
	if want == c.interest {
		return
	}
	c.interest = want
	if err := c.l.SetInterest(c, want); err != nil {
		c.fail("poller", err)
	}
}

// touch records traffic for the idle timeout.
func (c *Conn) touch() {
	if c.extra != nil && c.extra.idle > 0 {
		c.extra.lastActive = c.l.Now()
	}
}

// SetIdleTimeout closes the conn with ErrIdleTimeout once d passes with no bytes
// read or written; d <= 0 turns it off. Activity is stamped with the loop's round
// clock, and the timer is re-armed only when it fires, so traffic costs no timer
// work. Loop goroutine only.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	if c.state == Closed {
		return
	}
	x := c.more()
	x.idleTimer.Stop()
	x.idle = d
	if d <= 0 {
		return
	}
	x.lastActive = c.l.Now()
	if x.idleTimer == (loop.Timer{}) {
		x.idleTimer = c.l.AfterFunc(d, c.checkIdle)
	} else {
		x.idleTimer.Reset(d)
	}
}

func (c *Conn) checkIdle() {
	x := c.extra
	if c.state == Closed || x.idle <= 0 {
		return
	}
	quiet := time.Since(x.lastActive)
	if quiet >= x.idle {
		c.finish(ErrIdleTimeout)
		return
	}
	x.idleTimer.Reset(x.idle - quiet)
}
