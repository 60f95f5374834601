package transport

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
)

// Dial starts a non-blocking connect to address on network (tcp, tcp4, tcp6 or
// unix) and returns the conn in state Connecting. OnOpen follows when the connect
// succeeds; if it fails, OnClose follows with the error (never OnOpen). Dial itself
// fails only for a bad network or address, when no socket can be made, or with
// ErrClosed when l has stopped. A host name is resolved first, which may block:
// dial IP addresses from a loop goroutine.
//
// Safe from any goroutine. Off l's goroutine (once a goroutine drives l) Dial
// never waits for l: it starts the connect and hands the conn's registration to
// l with Submit, so a loop may dial onto another that is busy, or dialling back.
// Use the returned conn from there only through its Async methods, as from any
// other goroutine.
func Dial(l *loop.Loop, network, address string, h Handler, cfg Config) (*Conn, error) {
	if h == nil {
		return nil, fmt.Errorf("transport: Dial: nil Handler")
	}
	sa, family, _, err := sockaddr(network, address, false)
	if err != nil {
		return nil, err
	}
	fd, err := sys.SocketNonblock(family)
	if err != nil {
		return nil, fmt.Errorf("transport: socket: %w", err)
	}
	c, err := prepareConn(l, fd, h, &cfg, Connecting)
	if err != nil {
		sys.Close(fd)
		return nil, err
	}
	if s := c.tlsLayer(); s != nil {
		s.address = address
	}
	connectErr := sys.Connect(fd, sa)
	switch connectErr {
	case nil, unix.EINPROGRESS, unix.EINTR, unix.EALREADY:
		// In progress (or, for a unix socket, already done): the first Writable
		// event finishes it.
		connectErr = nil
	}
	if l.OnLoop() {
		if err := c.register(&cfg); err != nil {
			sys.Close(fd)
			return nil, err
		}
		if connectErr != nil {
			c.failConnectLater(connectErr)
		}
		return c, nil
	}
	if err := l.Submit(func() { c.registerDialed(&cfg, connectErr) }); err != nil {
		sys.Close(fd)
		return nil, ErrClosed
	}
	return c, nil
}

// registerDialed is the loop's half of a Dial made on another goroutine: register
// the conn, or report through OnClose why it cannot be.
func (c *Conn) registerDialed(cfg *Config, connectErr error) {
	if err := c.register(cfg); err != nil {
		c.finish(err)
		return
	}
	if connectErr != nil {
		c.failConnectLater(connectErr)
	}
}

// failConnectLater reports a connect that failed at once (a refused unix
// socket, say) the way a failure found later is reported: through OnClose, from
// the loop, after Dial has returned.
func (c *Conn) failConnectLater(connectErr error) {
	c.reg.SetInterest(0)
	failed := fmt.Errorf("transport: connect: %w", connectErr)
	if err := c.l.Submit(func() { c.finish(failed) }); err != nil {
		c.finish(failed)
	}
}
