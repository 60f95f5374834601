package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/owner"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
)

// connFlags is a Conn's small state, one bit each.
type connFlags uint16

const (
	userPaused     connFlags = 1 << iota // PauseRead
	throttled                            // paused on the handler's behalf by an engine (connctl)
	waterPaused                          // the write queue went above HighWater
	readEOF                              // the peer shut its writing side
	writeShut                            // the write side was shut (CloseWrite done)
	shutAfterFlush                       // CloseWrite waits for the queue to drain
	dataPending                          // buffered input must be offered to OnData (after ResumeRead)
	writeBlocked                         // the kernel took less than the queue: wait for Writable
	streamHeld                           // the stream holds output the kernel has not taken (TLS records)
	streamReady                          // the stream holds input to read without waiting for an event
	received                             // bytes were read since the engine last looked (connctl.Received)
	receivedBefore                       // ... or in the window before that
)

// Conn is a connected stream socket registered on one loop. Create it with NewConn,
// Dial, or through a Listener.
type Conn struct {
	// reg is the conn's registration on its loop: the interest it wants, its
	// one-shot write notification and its round-end call live there, once.
	reg loop.Registration
	h   Handler
	l   *loop.Loop

	// view holds the unread input: a window on the loop's shared read buffer while
	// OnData runs, or on in (a pooled buffer) when the handler left bytes unread.
	view []byte
	in   *[]byte
	// out is the write queue (pooled); (*out)[outStart():] is still to be
	// written. The kernel takes the whole queue at once unless it is pushing
	// back, so the written prefix's length is kept in connExtra.
	out *[]byte

	extra *connExtra // rarely used state, allocated on first use
	ctx   any
	// lim holds the water marks and output limits, shared with conns of equal
	// Config; SetMaxQueued swaps it, and AsyncWrite reads it from any goroutine.
	lim atomic.Pointer[limits]

	// owed counts the bytes the conn owes its peer, with AsyncWrite's refusal
	// bits (see limit.go). Safe from any goroutine.
	owed atomic.Int64

	fd    int32
	state State
	flags connFlags
}

// connExtra holds state most conns never need, so that they do not pay for it.
type connExtra struct {
	// io is the conn's I/O layer when it is not the plain socket (see stream).
	io stream

	local, remote net.Addr

	idle idleTimeout

	// AsyncWrite accounting: byte offsets in the stream of everything queued and
	// everything written, and the callbacks waiting for an offset to be written.
	queued, written uint64
	pending         []completion

	outOff int        // the written prefix of the write queue
	soft   *softLimit // the soft output limit's clock, once the output went above it
}

type completion struct {
	end      uint64
	callback func(error)
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
func (c *Conn) State() State {
	c.checkOwner("transport.Conn.State")
	return c.state
}

// Handler returns the conn's handler. Loop goroutine only.
func (c *Conn) Handler() Handler {
	c.checkOwner("transport.Conn.Handler")
	return c.h
}

// Context returns the value stored with SetContext. Loop goroutine only.
func (c *Conn) Context() any {
	c.checkOwner("transport.Conn.Context")
	return c.ctx
}

// SetContext stores a value with the conn for its handler. Loop goroutine only.
func (c *Conn) SetContext(v any) {
	c.checkOwner("transport.Conn.SetContext")
	c.ctx = v
}

// LocalAddr returns the conn's local address (looked up once). Loop goroutine only.
func (c *Conn) LocalAddr() net.Addr {
	c.checkOwner("transport.Conn.LocalAddr")
	return c.addr(&c.more().local, sys.Getsockname)
}

// RemoteAddr returns the peer's address (looked up once). Loop goroutine only.
func (c *Conn) RemoteAddr() net.Addr {
	c.checkOwner("transport.Conn.RemoteAddr")
	return c.addr(&c.more().remote, sys.Getpeername)
}

// addr returns *cached, looking it up with lookup the first time.
func (c *Conn) addr(cached *net.Addr, lookup func(fd int) (unix.Sockaddr, error)) net.Addr {
	if *cached == nil {
		if sa, err := lookup(int(c.fd)); err == nil {
			*cached = sockaddrToAddr(sa)
		}
	}
	return *cached
}

// NewConn adopts fd, a connected stream socket, as a Conn on l: it makes the fd
// non-blocking and close-on-exec, applies cfg, registers it for reading and calls
// OnOpen (the pike Transport's set_socket). On error the fd is still the caller's.
// Loop goroutine only (or before the loop runs).
func NewConn(l *loop.Loop, fd int, h Handler, cfg Config) (*Conn, error) {
	if fd < 0 {
		return nil, fmt.Errorf("transport: NewConn: bad fd %d", fd)
	}
	if err := sys.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("transport: NewConn: %w", err)
	}
	sys.CloseOnExec(fd)
	return newConn(l, fd, h, &cfg, Open)
}

// Adopt is NewConn for an fd that is already non-blocking and close-on-exec, as
// every fd that a Listener accepts (and ServeFunc hands out) is: it skips the
// fcntl calls that NewConn makes to be sure. On error the fd is still the
// caller's. Loop goroutine only (or before the loop runs).
func Adopt(l *loop.Loop, fd int, h Handler, cfg Config) (*Conn, error) {
	if fd < 0 {
		return nil, fmt.Errorf("transport: Adopt: bad fd %d", fd)
	}
	return newConn(l, fd, h, &cfg, Open)
}

// newConn makes and registers a conn, opening it when state is Open.
func newConn(l *loop.Loop, fd int, h Handler, cfg *Config, state State) (*Conn, error) {
	c, err := prepareConn(l, fd, h, cfg, state)
	if err != nil {
		return nil, err
	}
	return c, c.start(cfg, state)
}

// newConnFrom makes, registers and opens an accepted conn whose RemoteAddr is
// remote.
func newConnFrom(l *loop.Loop, fd int, h Handler, cfg *Config, remote netip.AddrPort) (*Conn, error) {
	c, err := prepareConn(l, fd, h, cfg, Open)
	if err != nil {
		return nil, err
	}
	if remote.IsValid() {
		c.more().remote = net.TCPAddrFromAddrPort(remote)
	}
	return c, c.start(cfg, Open)
}

// start registers a prepared conn and opens it when state is Open.
func (c *Conn) start(cfg *Config, state State) error {
	if err := c.register(cfg); err != nil {
		return err
	}
	if state == Open {
		c.established()
	}
	return nil
}

// prepareConn makes the Conn value and sets its socket options; nothing touches
// the loop, so Dial can do it on any goroutine.
func prepareConn(l *loop.Loop, fd int, h Handler, cfg *Config, state State) (*Conn, error) {
	if h == nil {
		return nil, errors.New("transport: nil Handler")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Conn{l: l, h: h, fd: int32(fd), state: state}
	c.lim.Store(limitsOf(cfg))
	if err := setSockopts(fd, cfg); err != nil {
		return nil, err
	}
	if t := cfg.TLS; t != nil {
		if err := t.check(); err != nil {
			return nil, err
		}
		s := newTLSStream(c, t, state == Connecting)
		c.more().io = s
		if state == Open {
			// A server: its handshake phase begins with the conn.
			c.state, s.hs = Connecting, newHandshake()
		}
	}
	return c, nil
}

// established runs once the socket is connected: a plain conn opens, a TLS
// conn begins its handshake (and opens when it is done).
func (c *Conn) established() {
	if s := c.tlsLayer(); s != nil {
		s.begin(c)
		return
	}
	c.state = Open
	c.open()
}

// writePending reports whether bytes wait to be written: in the queue, or held
// by the stream (records the kernel has not taken).
func (c *Conn) writePending() bool {
	return c.out != nil || c.flags&streamHeld != 0
}

// register attaches the conn to its loop: Readable for an open conn, Writable for
// a connect in progress.
func (c *Conn) register(cfg *Config) error {
	var in poller.Interest = poller.Readable
	if c.state == Connecting && !c.handshaking() {
		in = poller.Writable
	}
	if err := c.l.Attach(&c.reg, (*connTarget)(c), in); err != nil {
		return fmt.Errorf("transport: register: %w", err)
	}
	if cfg.IdleTimeout > 0 {
		c.SetIdleTimeout(cfg.IdleTimeout)
	}
	return nil
}

// checkOwner panics, with the sycamore_checkowner build tag, when a loop-only
// method is called off the conn's loop goroutine; without the tag the compiler
// drops the call.
func (c *Conn) checkOwner(method string) {
	if owner.Checks {
		c.l.CheckOwner(method)
	}
}
