package shard

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// Listen listens on address (network tcp, tcp4, tcp6 or unix) and serves every
// conn with h on the engine's loops; it may be called several times, before or
// after Start. It returns the bound address, so ":0" works. With ReusePort a TCP
// address gets one listener per loop, all on the same port. Not on a loop
// goroutine.
func (e *Engine) Listen(network, address string, h transport.Handler) (net.Addr, error) {
	spec := network + " " + address
	return e.listen("Listen", spec, h, func(handlers []transport.Handler) (net.Addr, error) {
		if files := inherit().take(spec); files != nil {
			return e.listenInherited(spec, files, handlers)
		}
		if e.opts.ReusePort && strings.HasPrefix(network, "tcp") {
			return e.listenPerLoop(network, address, handlers)
		}
		ln, err := transport.Listen(network, address, transport.ListenConfig{ReuseAddr: true})
		if err != nil {
			return nil, err
		}
		return e.listenHandoff(ln, handlers)
	})
}

// listen is what every Listen variant shares: it checks the call and the
// engine's state, wraps h for each loop, and, under e.life, has open make and
// serve the listener(s); then it records and logs the address, and, for
// Restart, the Listen call (spec: "network address") the listeners answer.
func (e *Engine) listen(op, spec string, h transport.Handler, open func(handlers []transport.Handler) (net.Addr, error)) (net.Addr, error) {
	if h == nil {
		return nil, fmt.Errorf("shard: %s: nil Handler", op)
	}
	if e.inAnyLoop() {
		return nil, ErrInLoop
	}
	e.life.Lock()
	defer e.life.Unlock()
	if e.getState() >= draining {
		return nil, ErrClosed
	}
	handlers := make([]transport.Handler, len(e.nodes))
	for i, n := range e.nodes {
		handlers[i] = n.wrap(h)
	}
	e.mu.Lock()
	before := len(e.listeners)
	e.mu.Unlock()
	addr, err := open(handlers)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.addrs = append(e.addrs, addr)
	if spec != "" {
		for _, ln := range e.listeners[before:] {
			e.specs[ln] = spec
		}
	}
	e.mu.Unlock()
	if e.getState() == running {
		e.log.Info("sycamore: listening", "network", addr.Network(), "addr", addr.String())
	}
	return addr, nil
}

// listenHandoff serves ln on the acceptor loop, which hands every conn to the
// loop the balancer picks. It owns ln: on error ln is closed. e.life is held.
func (e *Engine) listenHandoff(ln *transport.Listener, handlers []transport.Handler) (net.Addr, error) {
	var err error
	acceptor := e.acceptor.Load()
	if acceptor == nil {
		if acceptor, err = e.newAcceptor(); err != nil {
			ln.Close()
			return nil, err
		}
	}
	accepted := func(fd int, remote netip.AddrPort) {
		if !e.admit(nil) {
			conns.Refuse(fd)
			return
		}
		i := e.pick(remote)
		e.nodes[i].handoffFrom(fd, handlers[i], e.proxied(remote))
	}
	if err := e.requireProxy(ln); err != nil {
		ln.Close()
		return nil, err
	}
	if err := e.onLoop(acceptor, func() error { return ln.ServeFunc(acceptor, accepted) }); err != nil {
		ln.Close()
		return nil, err
	}
	e.addListeners(ln)
	return ln.Addr(), nil
}

// listenPerLoop opens one SO_REUSEPORT listener per loop on the same address; a
// ":0" port is the one the kernel gave the first. e.life is held.
func (e *Engine) listenPerLoop(network, address string, handlers []transport.Handler) (net.Addr, error) {
	var opened []*transport.Listener
	fail := func(err error) (net.Addr, error) {
		for _, ln := range opened {
			ln.Close()
		}
		return nil, err
	}
	cfg := transport.ListenConfig{ReuseAddr: true, ReusePort: true}
	for i, n := range e.nodes {
		ln, err := transport.Listen(network, address, cfg)
		if err != nil {
			return fail(err)
		}
		opened = append(opened, ln)
		if err := e.requireProxy(ln); err != nil {
			return fail(err)
		}
		if i == 0 {
			address = boundAddress(address, ln.Addr())
		}
		n, h := n, handlers[i]
		accepted := func(fd int, remote netip.AddrPort) {
			if !e.admit(n) {
				conns.Refuse(fd)
				return
			}
			n.adoptFrom(fd, h, e.proxied(remote))
		}
		if err := e.onLoop(n.l, func() error { return ln.ServeFunc(n.l, accepted) }); err != nil {
			return fail(err)
		}
	}
	e.addListeners(opened...)
	return opened[0].Addr(), nil
}

// boundAddress replaces a 0 port in address with the one the kernel bound.
func boundAddress(address string, bound net.Addr) string {
	host, port, err := net.SplitHostPort(address)
	var boundPort int
	switch a := bound.(type) {
	case *net.TCPAddr:
		boundPort = a.Port
	case *net.UDPAddr:
		boundPort = a.Port
	}
	if err != nil || boundPort == 0 || (port != "0" && port != "") {
		return address
	}
	return net.JoinHostPort(host, fmt.Sprint(boundPort))
}

// newAcceptor makes the acceptor loop (never pinned) and, if the engine runs
// already, starts it. e.life is held.
func (e *Engine) newAcceptor() (*loop.Loop, error) {
	// The acceptor only accepts: it reads nothing, so it gets a minimal buffer.
	l, err := loop.New(loop.Config{ID: len(e.nodes), CPU: loop.NoPin, ReadBufferSize: 512, Logger: e.log})
	if err != nil {
		return nil, fmt.Errorf("shard: acceptor loop: %w", err)
	}
	if e.getState() == running {
		if err := e.startLoop(l); err != nil {
			l.Close()
			return nil, err
		}
	}
	e.acceptor.Store(l)
	return l, nil
}

func (e *Engine) addListeners(lns ...*transport.Listener) {
	e.mu.Lock()
	e.listeners = append(e.listeners, lns...)
	e.mu.Unlock()
}

// onLoop runs f on l's goroutine and returns its error: directly while the
// engine has not started (the caller holds e.life, so it cannot start
// meanwhile), through Submit once it runs. It gives up with ErrClosed if a loop
// dies or the engine closes first.
func (e *Engine) onLoop(l *loop.Loop, f func() error) error {
	if !l.Running() && e.getState() == created {
		return f()
	}
	res := make(chan error, 1)
	if err := l.Submit(func() { res <- f() }); err != nil {
		return ErrClosed
	}
	select {
	case err := <-res:
		return err
	case <-e.died:
		return ErrClosed
	case <-e.stopped:
		return ErrClosed
	}
}

// requireProxy makes ln read a PROXY header on every conn when the engine
// takes them from a balancer (Options.Proxy).
func (e *Engine) requireProxy(ln *transport.Listener) error {
	if e.opts.Proxy == nil {
		return nil
	}
	return ln.RequireProxy(e.opts.Proxy)
}

// proxied is the client address a conn's listener handed on, when it came from
// a PROXY header; the zero value (the socket's own peer) otherwise.
func (e *Engine) proxied(remote netip.AddrPort) netip.AddrPort {
	if e.opts.Proxy == nil {
		return netip.AddrPort{}
	}
	return remote
}
