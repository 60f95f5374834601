package shard

import (
	"errors"
	"net/netip"

	"github.com/sycamore-go/sycamore/transport"
)

// Dial connects to address (network tcp, tcp4, tcp6 or unix) from one of the
// engine's loops and returns the conn in state Connecting: OnOpen follows when
// the connect succeeds, OnClose with the error when it fails (a refused connect
// included). Called on a loop goroutine — a handler that dials an upstream — the
// conn lives on that same loop, so the two conns share it and need no locking;
// called elsewhere, the balancer picks the loop and Dial waits for it (so a loop
// of another engine that dials here waits for this engine's loop). Dial an IP
// address: a host name is resolved first, which blocks the loop. Safe from any
// goroutine.
func (e *Engine) Dial(network, address string, h transport.Handler) (*transport.Conn, error) {
	if h == nil {
		return nil, errors.New("shard: Dial: nil Handler")
	}
	if e.getState() >= draining {
		return nil, ErrClosed
	}
	n := e.callerNode()
	if n == nil {
		remote, _ := netip.ParseAddrPort(address)
		n = e.nodes[e.pick(remote)]
	}
	var c *transport.Conn
	err := e.onLoopOf(n, func() error {
		var err error
		n.open.Inc()
		e.conns.Inc()
		c, err = transport.Dial(n.l, network, address, n.wrap(h), e.opts.Conn)
		if err != nil {
			n.open.Dec()
			e.conns.Dec()
		}
		return err
	})
	return c, err
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

// onLoopOf runs f on n's loop goroutine: directly when the caller is on it, or
// before the engine starts; otherwise through Submit, waiting for the result.
func (e *Engine) onLoopOf(n *node, f func() error) error {
	if n.l.InLoop() {
		return f()
	}
	e.life.Lock()
	if e.getState() == created {
		defer e.life.Unlock()
		return f()
	}
	e.life.Unlock()
	return e.onLoop(n.l, f)
}
