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
// fails only for a bad network or address or when no socket can be made. A host
// name is resolved first, which may block: dial IP addresses from the loop
// goroutine. Loop goroutine only (or before the loop runs).
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
	connectErr := sys.Connect(fd, sa)
	switch connectErr {
	case nil, unix.EINPROGRESS, unix.EINTR, unix.EALREADY:
		// In progress (or, for a unix socket, already done): the first Writable
		// event finishes it.
		c, err := newConn(l, fd, h, &cfg, Connecting)
		if err != nil {
			sys.Close(fd)
			return nil, err
		}
		return c, nil
	}
	// Failed at once (a refused unix socket, say). Report it the same way as a
	// failure found later: through OnClose, from the loop.
	c, err := newConn(l, fd, h, &cfg, Connecting)
	if err != nil {
		sys.Close(fd)
		return nil, err
	}
	l.SetInterest(c, 0)
	c.interest = 0
	failed := fmt.Errorf("transport: connect: %w", connectErr)
	if err := l.Submit(func() { c.finish(failed) }); err != nil {
		c.finish(failed)
	}
	return c, nil
}
