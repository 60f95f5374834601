package shard

import (
	"errors"
	"net/netip"

	"github.com/sycamore-go/sycamore/transport"
)

// Dial connects to address (network tcp, tcp4, tcp6 or unix) from one of the
// engine's loops and returns the conn in state Connecting: OnOpen follows when
// the connect succeeds, OnClose with the error when it fails (a refused connect
// included). Called on one of the engine's loop goroutines (a handler that dials
// an upstream), the conn lives on that same loop, so the two conns share it and
// need no locking; called anywhere else, the balancer picks the loop. Dial never
// waits for a loop: off the chosen loop it starts the connect and hands the conn
// to the loop (see transport.Dial), so loops of two engines may dial each other
// at the same time. From a goroutine other than the conn's loop, use the
// returned conn only through its Async methods. Dial an IP address: a host name
// is resolved first, which blocks the caller. The conn gets Options.Conn without
// its TLS (which serves the listeners): DialConfig dials with a config of its
// own, TLS included. Safe from any goroutine.
func (e *Engine) Dial(network, address string, h transport.Handler) (*transport.Conn, error) {
	cfg := e.opts.Conn
	cfg.TLS = nil
	return e.DialConfig(network, address, h, cfg)
}

// DialConfig is Dial with the conn's config given: cfg.TLS makes it a TLS
// client (OnOpen follows the handshake, and a failed handshake reaches OnClose).
// Safe from any goroutine.
func (e *Engine) DialConfig(network, address string, h transport.Handler, cfg transport.Config) (*transport.Conn, error) {
	if h == nil {
		return nil, errors.New("shard: Dial: nil Handler")
	}
	n := e.callerNode()
	if n == nil {
		remote, _ := netip.ParseAddrPort(address)
		n = e.nodes[e.pick(remote)]
	}
	if e.getState() == created {
		// Before Start, the conn is registered from this goroutine: hold life so
		// that the loops cannot start meanwhile. Held briefly and never while
		// waiting for a loop, so a loop goroutine of another engine may take it.
		e.life.Lock()
		defer e.life.Unlock()
	}
	if e.getState() >= draining {
		return nil, ErrClosed
	}
	n.dialling()
	c, err := transport.Dial(n.l, network, address, n.wrap(h), cfg)
	if err != nil {
		n.dialFailed()
		if errors.Is(err, transport.ErrClosed) {
			return nil, ErrClosed
		}
		return nil, err
	}
	return c, nil
}

// callerNode returns the node whose loop goroutine is calling, or nil.
func (e *Engine) callerNode() *node {
	for _, n := range e.nodes {
		if n.l.InLoop() {
			return n
		}
	}
	return nil
}

// pick asks the balancer for a loop, keeping a wrong answer in range.
func (e *Engine) pick(remote netip.AddrPort) int {
	i := e.bal.Pick(remote, e.loads)
	if i < 0 || i >= len(e.nodes) {
		i = int(uint(i) % uint(len(e.nodes)))
	}
	return i
}
