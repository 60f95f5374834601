package shard

import (
	"fmt"
	"net"

	"github.com/sycamore-go/sycamore/transport"
)

// ListenPacket serves datagrams on address ("udp", "udp4" or "udp6" with
// host:port; "unixgram" with a path) with h: one SO_REUSEPORT socket per loop,
// all bound to the same address (a 0 port is the one the kernel gave the
// first), so the kernel spreads the flows (by source address and port) over
// the loops and each loop reads and answers its own in batches. A unixgram
// path cannot be shared: it gets one socket, on the first loop.
// Options.Packet configures the sockets. Shutdown and Close close them at once
// (a datagram socket has nothing to drain). Stats counts their traffic per
// loop. Not from a loop goroutine (ErrInLoop).
func (e *Engine) ListenPacket(network, address string, h transport.PacketHandler) (net.Addr, error) {
	if h == nil {
		return nil, fmt.Errorf("shard: ListenPacket: nil PacketHandler")
	}
	if e.inAnyLoop() {
		return nil, ErrInLoop
	}
	e.life.Lock()
	defer e.life.Unlock()
	if e.getState() >= draining {
		return nil, ErrClosed
	}
	cfg := e.opts.Packet
	nodes := e.nodes
	if network == "unixgram" {
		nodes = nodes[:1]
	} else {
		cfg.ReusePort = true
	}
	var opened []*transport.PacketConn
	fail := func(err error) (net.Addr, error) {
		for _, pc := range opened {
			pc.Close()
		}
		return nil, err
	}
	for i, n := range nodes {
		pc, err := transport.ListenPacket(network, address, cfg)
		if err != nil {
			return fail(err)
		}
		opened = append(opened, pc)
		if i == 0 {
			address = boundAddress(address, pc.LocalAddr())
		}
		if err := e.onLoop(n.l, func() error { return pc.Serve(n.l, h) }); err != nil {
			return fail(err)
		}
		n.addPacket(pc)
	}
	addr := opened[0].LocalAddr()
	e.mu.Lock()
	e.addrs = append(e.addrs, addr)
	e.mu.Unlock()
	if e.getState() == running {
		e.log.Info("sycamore: listening", "network", network, "addr", addr.String())
	}
	return addr, nil
}

// addPacket records a datagram socket served by the node's loop.
func (n *node) addPacket(pc *transport.PacketConn) {
	n.e.mu.Lock()
	n.packets = append(n.packets, pc)
	n.e.mu.Unlock()
}

// closePackets closes every datagram socket; each Close waits for its loop.
func (e *Engine) closePackets() {
	e.mu.Lock()
	var pcs []*transport.PacketConn
	for _, n := range e.nodes {
		pcs = append(pcs, n.packets...)
		n.packets = nil
	}
	e.mu.Unlock()
	for _, pc := range pcs {
		pc.Close()
	}
}

// packetStats adds the node's datagram sockets' counters to ls.
func (n *node) packetStats(ls *LoopStats) {
	n.e.mu.Lock()
	defer n.e.mu.Unlock()
	for _, pc := range n.packets {
		s := pc.Stats()
		ls.PacketsIn += s.PacketsIn
		ls.PacketsOut += s.PacketsOut
		ls.PacketBytesIn += s.BytesIn
		ls.PacketBytesOut += s.BytesOut
		ls.PacketsDropped += s.Dropped
		ls.PacketsTruncated += s.Truncated
	}
}
