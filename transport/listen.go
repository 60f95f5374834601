package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
)

// ListenConfig sets the listening socket's options.
type ListenConfig struct {
	// ReuseAddr sets SO_REUSEADDR, so a restarted server can bind while old
	// connections linger in TIME_WAIT. The net package always sets it; servers
	// should too.
	ReuseAddr bool
	// ReusePort sets SO_REUSEPORT, so several listeners (one per loop) can bind the
	// same address and the kernel spreads connections over them.
	ReusePort bool
	// Backlog is the accept queue length; 0 means the system maximum (SOMAXCONN).
	Backlog int
	// Proxy, when set, makes the listener require a PROXY protocol header on
	// every conn (see ProxyProtocol).
	Proxy *ProxyProtocol
}

// acceptPause is how long a listener stops accepting when it is out of fds and
// could not even shed the pending connections: long enough not to spin, short
// enough to pick up again soon after fds free up.
const acceptPause = 50 * time.Millisecond

// Listener is a listening socket: one Listen opened, or one adopted from
// another process or from package net (FileListener, ListenerFromFd). Serve
// makes it a loop target that accepts until EAGAIN on every readable event and
// turns each connection into a Conn; File hands a copy of the socket on.
type Listener struct {
	reg  loop.Registration // its place on the loop that serves it
	fd   int
	addr net.Addr
	// unixPath is the socket path Close removes: set by Listen for a named unix
	// socket, never for an adopted one, and cleared by File (the socket lives on
	// in the copy). Guarded by mu until closed is set.
	unixPath string

	loopCloser // closed and the serving loop l, guarded by mu
	accepted   func(fd int, remote netip.AddrPort)

	// spare is an fd held in reserve for EMFILE: released, it lets the listener
	// accept and close the pending connections instead of spinning on them.
	spare  int
	paused bool
	// acceptBuf receives each accepted peer's address, so accepting allocates
	// nothing.
	acceptBuf sys.AcceptBuf
	shedded   uint64
	// proxy, when set, is read from every conn before it is handed on
	// (readProxyHeader); proxyRefused counts the conns it refused.
	proxy        *ProxyProtocol
	proxyRefused uint64
	released     bool // the fd has been handed back for closing
}

// Listen opens a listening socket on network (tcp, tcp4, tcp6 or unix). With
// address ":0" the kernel picks a port; Addr reports it. Safe from any goroutine.
func Listen(network, address string, cfg ListenConfig) (*Listener, error) {
	sa, family, dualStack, err := sockaddr(network, address, true)
	if err != nil {
		return nil, err
	}
	fd, err := sys.SocketNonblock(family)
	if err != nil {
		return nil, fmt.Errorf("transport: socket: %w", err)
	}
	if err := prepareListener(fd, family, dualStack, cfg); err != nil {
		sys.Close(fd)
		return nil, err
	}
	if err := sys.Bind(fd, sa); err != nil {
		sys.Close(fd)
		return nil, fmt.Errorf("transport: bind %s: %w", address, err)
	}
	backlog := cfg.Backlog
	if backlog <= 0 {
		backlog = unix.SOMAXCONN
	}
	if err := sys.Listen(fd, backlog); err != nil {
		sys.Close(fd)
		return nil, fmt.Errorf("transport: listen: %w", err)
	}
	ln := &Listener{fd: fd, spare: -1}
	if cfg.Proxy != nil {
		if err := ln.RequireProxy(cfg.Proxy); err != nil {
			sys.Close(fd)
			return nil, err
		}
	}
	if bound, err := sys.Getsockname(fd); err == nil {
		ln.addr = sockaddrToAddr(bound)
	}
	if family == unix.AF_UNIX && len(address) > 0 && address[0] != '@' {
		ln.unixPath = address
	}
	return ln, nil
}

func prepareListener(fd, family int, dualStack bool, cfg ListenConfig) error {
	if family == unix.AF_UNIX {
		return nil
	}
	if cfg.ReuseAddr {
		if err := sys.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("transport: SO_REUSEADDR: %w", err)
		}
	}
	if cfg.ReusePort {
		if err := sys.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fmt.Errorf("transport: SO_REUSEPORT: %w", err)
		}
	}
	if family == unix.AF_INET6 {
		v6only := 1
		if dualStack {
			v6only = 0
		}
		if err := sys.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return fmt.Errorf("transport: IPV6_V6ONLY: %w", err)
		}
	}
	return nil
}

// Addr returns the bound address. Safe from any goroutine.
func (ln *Listener) Addr() net.Addr { return ln.addr }

// Fd returns the listening socket's fd. Safe from any goroutine.
func (ln *Listener) Fd() int { return ln.fd }

// Shed returns how many connections the listener accepted and closed at once
// because the process was out of fds. Loop goroutine only.
func (ln *Listener) Shed() uint64 { return ln.shedded }

// Serve registers the listener on l: every accepted connection becomes a Conn on
// l with handler h and config cfg. It returns at once; the loop does the
// accepting. Loop goroutine only (or before the loop runs).
func (ln *Listener) Serve(l *loop.Loop, h Handler, cfg Config) error {
	if h == nil {
		return errors.New("transport: Serve: nil Handler")
	}
	return ln.serve(l, func(fd int, remote netip.AddrPort) {
		if ln.proxy == nil {
			remote = netip.AddrPort{} // the socket's own: looked up if asked for
		}
		if _, err := AdoptFrom(l, fd, h, cfg, remote); err != nil {
			sys.Close(fd)
			l.HandleError((*listenTarget)(ln), err)
		}
	})
}

// ServeFunc registers the listener on l like Serve, but hands each accepted
// connection to accepted instead of making it a Conn on l. accepted owns fd, a
// non-blocking close-on-exec socket: it must adopt it (NewConn, on any loop,
// through that loop's Submit when it is another one) or close it. remote is the
// peer's address; it is the zero AddrPort for unix sockets, and IPv4 peers of a
// dual-stack listener appear as IPv4. This is how shard spreads one listener's
// conns over many loops. Loop goroutine only (or before the loop runs).
func (ln *Listener) ServeFunc(l *loop.Loop, accepted func(fd int, remote netip.AddrPort)) error {
	if accepted == nil {
		return errors.New("transport: ServeFunc: nil accept function")
	}
	return ln.serve(l, accepted)
}

func (ln *Listener) serve(l *loop.Loop, accepted func(fd int, remote netip.AddrPort)) error {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	switch {
	case ln.closed:
		return ErrClosed
	case ln.l != nil:
		return errors.New("transport: listener already served")
	}
	ln.spare = reserveSpare()
	if err := l.Attach(&ln.reg, (*listenTarget)(ln), poller.Readable); err != nil {
		releaseSpare(&ln.spare)
		return fmt.Errorf("transport: register listener: %w", err)
	}
	ln.l, ln.accepted = l, accepted
	return nil
}

// listenTarget is the listener as its loop sees it (a loop.Target and
// Finalizer), so the loop's plumbing stays off the user's type.
type listenTarget Listener

// Fd is the loop.Target method.
func (t *listenTarget) Fd() int { return t.fd }

// HandleEvent is the loop.Target method: accept until EAGAIN.
func (t *listenTarget) HandleEvent(poller.Event) { (*Listener)(t).acceptAll() }

// Finalize is the loop.Finalizer method: the loop closing, or a panic in an
// accept callback, closes the listener.
func (t *listenTarget) Finalize(error) {
	ln := (*Listener)(t)
	ln.markClosed()
	ln.closeNow()
}

// acceptAll accepts until EAGAIN, handing each connection on.
func (ln *Listener) acceptAll() {
	for {
		fd, remote, err := sys.AcceptNonblock(ln.fd, &ln.acceptBuf)
		switch err {
		case nil:
			if ln.proxy != nil {
				ln.readProxyHeader(fd, remote)
				continue
			}
			ln.accepted(fd, remote)
			if ln.released {
				return // closed by the new conn's OnOpen: accept no more
			}
			continue
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue // a signal, or a client that reset before we got to it
		case unix.EMFILE, unix.ENFILE:
			ln.outOfFds()
			return
		default:
			// ENOBUFS, ENOMEM and the like: back off instead of spinning.
			ln.l.HandleError((*listenTarget)(ln), fmt.Errorf("transport: accept: %w", err))
			ln.pause()
			return
		}
	}
}

// outOfFds sheds the pending connections with the spare fd: free it, accept and
// close each pending client (they see a clean close rather than a hang), then
// reserve it again. If there is no spare, or it cannot be had back, accepting
// pauses for acceptPause. Either way the loop does not spin on a listener that
// stays readable.
func (ln *Listener) outOfFds() {
	drained := false
	if ln.spare >= 0 {
		releaseSpare(&ln.spare)
		for {
			fd, _, err := sys.AcceptNonblock(ln.fd, &ln.acceptBuf)
			if err != nil {
				drained = err == unix.EAGAIN
				break
			}
			sys.Close(fd)
			ln.shedded++
		}
		ln.spare = reserveSpare()
	}
	ln.l.HandleError((*listenTarget)(ln), fmt.Errorf("transport: accept: %w (%d connections shed so far)", unix.EMFILE, ln.shedded))
	if !drained || ln.spare < 0 {
		ln.pause()
	}
}

// pause stops accepting for acceptPause.
func (ln *Listener) pause() {
	if ln.paused {
		return
	}
	ln.paused = true
	ln.reg.SetInterest(0)
	ln.l.AfterFunc(acceptPause, func() {
		ln.paused = false
		if ln.reg.Registered() && ln.reg.Interest() == 0 && !ln.isClosed() {
			if ln.spare < 0 {
				ln.spare = reserveSpare()
			}
			ln.reg.SetInterest(poller.Readable)
		}
	})
}

func (ln *Listener) isClosed() bool {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return ln.closed
}

func reserveSpare() int {
	fd, err := sys.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

func releaseSpare(fd *int) {
	if *fd >= 0 {
		sys.Close(*fd)
		*fd = -1
	}
}

// Close stops accepting and closes the socket; connections already accepted live
// on. If other copies of the socket are open (File, or a listener adopted with
// FileListener), the socket keeps listening in them and only this fd closes.
// Close removes a unix socket's path only when Listen bound it and File was
// never called. When the listener is served by a running loop and Close is
// called from another goroutine, the close is handed to the loop and Close waits
// for it, so no connection is accepted after Close returns. Safe from any
// goroutine.
func (ln *Listener) Close() error { return ln.closeVia(ln.closeNow) }

func (ln *Listener) closeNow() {
	releaseSpare(&ln.spare)
	if ln.released {
		return
	}
	ln.released = true
	// A served listener's fd is closed by the loop at the end of its round.
	if ln.reg.Release() != nil {
		sys.Close(ln.fd)
	}
	if ln.unixPath != "" {
		os.Remove(ln.unixPath)
	}
}
