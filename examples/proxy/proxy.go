package main

import (
	"errors"
	"fmt"
	"net"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// defaultHighWater is -highwater's default: 1 MiB queued for a slow side is
// plenty to keep a fast link busy, and bounds what each slow side can cost.
const defaultHighWater = 1 << 20

// proxy is the handler of the accepted (client) conns. Each client conn gets an
// end in its context; its upstream conn has the other end as its handler.
type proxy struct {
	e                 *shard.Engine
	network, upstream string
	highWater         int

	// peakQueued is the longest write queue any end has seen, in bytes. The
	// tests read it to check that slow readers do not grow the proxy's memory;
	// a production proxy would export it as a metric.
	peakQueued atomic.Int64
}

// configure sets the conn options a proxy needs. The proxy paces each side by
// the other's queue (-highwater); the transport's own pause, which stops a conn
// reading when its own queue is long, would pace the wrong side, so it is off.
func configure(f *cli.Flags) {
	f.Conn.HighWater = -1
}

func newProxy(e *shard.Engine, upstream string, highWater int) (*proxy, error) {
	if upstream == "" {
		return nil, errors.New("-upstream is required")
	}
	if highWater <= 0 {
		return nil, fmt.Errorf("-highwater %d: want a positive number of bytes", highWater)
	}
	network, address := cli.Network(upstream)
	if network == "tcp" {
		// Dialing a host name would resolve it on the loop, blocking every conn
		// of that loop: resolve it once, here.
		addr, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return nil, fmt.Errorf("-upstream: %w", err)
		}
		address = addr.String()
	}
	return &proxy{e: e, network: network, upstream: address, highWater: highWater}, nil
}

// end is one side of a proxied pair: the client's conn or the upstream's. Its
// methods run on the pair's loop.
type end struct {
	p    *proxy
	conn *transport.Conn
	peer *end
	// upstream says this is the upstream's end, opened once it connected.
	upstream, opened bool
	// eof says this side shut its writing side: nothing more will be read.
	eof bool
}

// OnOpen pairs a new client conn with an upstream conn on the same loop. The
// client is not read until the upstream is connected: its bytes wait in the
// kernel meanwhile.
func (p *proxy) OnOpen(c *transport.Conn) {
	client := &end{p: p, conn: c}
	upstream := &end{p: p, peer: client, upstream: true}
	client.peer = upstream
	c.SetContext(client)
	c.PauseRead()
	uc, err := p.e.Dial(p.network, p.upstream, upstream)
	if err != nil {
		c.Loop().Logger().Warn("proxy: dial upstream", "upstream", p.upstream, "err", err)
		c.Close()
		return
	}
	upstream.conn = uc
}

// The client conns' other events go to their end.

func (p *proxy) OnData(c *transport.Conn)     { clientEnd(c).OnData(c) }
func (p *proxy) OnWritable(c *transport.Conn) { clientEnd(c).OnWritable(c) }
func (p *proxy) OnEOF(c *transport.Conn)      { clientEnd(c).OnEOF(c) }

func (p *proxy) OnClose(c *transport.Conn, err error) {
	if x := clientEnd(c); x != nil {
		x.OnClose(c, err)
	}
}

func clientEnd(c *transport.Conn) *end {
	x, _ := c.Context().(*end)
	return x
}

// OnOpen runs for the upstream end only: it is connected, so the client's
// bytes may flow.
func (x *end) OnOpen(c *transport.Conn) {
	x.conn, x.opened = c, true
	x.peer.conn.ResumeRead()
}

// OnData moves what arrived to the other side's queue; the other side flushes
// it at the end of this round. If that queue is now above the high-water mark,
// this side stops reading until it has drained: DeferWrite asks for the
// other side's OnWritable, which the transport calls once its queue is empty
// and the socket can take more.
func (x *end) OnData(c *transport.Conn) {
	b, _ := c.Next(-1)
	out := x.peer.conn
	if _, err := out.Write(b); err != nil {
		c.Close() // the other side is closing: nowhere to send these bytes
		return
	}
	queued := out.Queued()
	x.p.notePeak(queued)
	if queued > x.p.highWater {
		c.PauseRead()
		out.DeferWrite()
	}
}

// OnWritable: this side's queue has drained, so its peer may be read again.
//
// An alternative is a per-loop timer that looks at the queues of paused pairs;
// OnWritable needs no polling and no per-loop state, and comes exactly when the
// kernel has taken the whole queue.
func (x *end) OnWritable(c *transport.Conn) { x.peer.conn.ResumeRead() }

// OnEOF passes a half-close through: once the other side has written what this
// side sent, its writing side is shut too. When both sides are done, both
// close.
func (x *end) OnEOF(c *transport.Conn) {
	x.eof = true
	if x.peer.eof {
		c.Close()
		x.peer.conn.Close()
		return
	}
	x.peer.conn.CloseWrite()
}

// OnClose closes the other side, after it has written what it has queued. An
// upstream that could not be reached ends here without ever opening.
func (x *end) OnClose(c *transport.Conn, err error) {
	if x.upstream && !x.opened && err != nil {
		c.Loop().Logger().Warn("proxy: upstream unreachable", "upstream", x.p.upstream, "err", err)
	}
	if x.peer.conn != nil {
		x.peer.conn.Close()
	}
}

// Busy tells a graceful shutdown that a proxied pair is never idle: it ends
// when one of its sides does, and Shutdown waits for that (until -drain ends).
func (p *proxy) Busy(*transport.Conn) bool { return true }

// Busy: see proxy.Busy; the upstream conns answer for their pair too.
func (x *end) Busy(*transport.Conn) bool { return true }

// notePeak records the longest queue seen. Loops call it concurrently, hence
// the compare-and-swap.
func (p *proxy) notePeak(queued int) {
	for {
		peak := p.peakQueued.Load()
		if int64(queued) <= peak || p.peakQueued.CompareAndSwap(peak, int64(queued)) {
			return
		}
	}
}
