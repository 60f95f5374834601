package shard

import (
	"net/netip"
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/internal/connctl"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// conns are transport's hooks for the engine (see internal/connctl).
var conns = connctl.Get[*transport.Conn]()

// node is one of the engine's loops and the engine's state for it.
type node struct {
	e  *Engine
	id int
	l  *loop.Loop

	count    connCounts              // read by the balancer and Stats from any goroutine
	inFlight atomic.Int64            // offloads whose done has not run yet
	packets  []*transport.PacketConn // ListenPacket's sockets on this loop; guarded by e.mu

	// The inbox of accepted fds on their way to this loop (see handoff); spare
	// is the previous batch's slice, kept for reuse.
	inboxMu      sync.Mutex
	inbox, spare []handedOff
	adoptFn      func() // n.adoptInbox, made once: a method value allocates

	// Loop goroutine only.
	offloads   map[*transport.Conn]*offloadQueue // conns with offloads in flight or paused by overload
	waiting    []*transport.Conn                 // paused by overload, retried by retryTimer
	retry      loop.Timer
	retryArmed bool
	drain      drainState
}

func newNode(e *Engine, id int, l *loop.Loop) *node {
	n := &node{e: e, id: id, l: l, offloads: make(map[*transport.Conn]*offloadQueue)}
	n.adoptFn = n.adoptInbox
	return n
}

// stallAfter is how long a loop may leave handed-off conns waiting without
// adopting any before the balancer treats it as stalled: a handler blocked in a
// syscall, say. A healthy loop adopts within a round, microseconds; 5 ms is
// longer than most scheduling hiccups, and short enough that a stuck loop gets
// few of an accept burst. A busy loop can still miss it (on a small, loaded
// machine a thread may be off the CPU that long): how long each loop has stalled
// tells the two apart (see stalledLoad).
const stallAfter = 5 * time.Millisecond

// stalledLoad is the least load a stalled loop reports: more than any real count
// of conns, so least-connections and power-of-two pick another loop unless all
// are stalled. Above it the load grows by one per microsecond of the stall, up to
// maxStalledLoad (an int32's largest value, so it fits an int everywhere): a busy
// loop that was off the CPU just past stallAfter (common on a small, loaded
// machine, and during a burst several loops can look stalled at once) weighs less
// than one stuck for seconds, so the balancer picks it over the stuck one instead
// of breaking the tie blindly, towards the lowest index or the first draw.
const (
	stalledLoad    = 1 << 30
	maxStalledLoad = 1<<31 - 1
)

// nodeLoads is the balancer's view of the loops: each loop's open conns plus
// those handed to it and not picked up yet, or, for a stalled loop, stalledLoad
// plus the microseconds of its stall.
type nodeLoads struct {
	nodes []*node
	clock func() int64
}

func (s nodeLoads) Len() int { return len(s.nodes) }

func (s nodeLoads) Load(i int) int {
	count := &s.nodes[i].count
	pending := count.pending.Load()
	if pending > 0 {
		// How long the loop has left conns waiting without adopting any.
		stalled := s.clock() - max(count.pendingSince.Load(), count.lastAdopt.Load())
		if stalled > int64(stallAfter) {
			return stalledLoad + int(min(stalled/int64(time.Microsecond), maxStalledLoad-stalledLoad))
		}
	}
	return int(count.open.Load() + pending)
}

// adopt makes an accepted fd a conn of this loop. Loop goroutine only.
func (n *node) adopt(fd int, h transport.Handler) { n.adoptFrom(fd, h, netip.AddrPort{}) }

// adoptFrom is adopt for a conn whose client's address came from a PROXY
// header (remote; the zero value: the socket's own peer). Loop goroutine only.
func (n *node) adoptFrom(fd int, h transport.Handler, remote netip.AddrPort) {
	n.opening()
	if _, err := transport.AdoptFrom(n.l, fd, h, n.e.opts.Conn, remote); err != nil {
		conns.Refuse(fd)
		n.openFailed()
		n.l.HandleError(nil, err)
	}
}

// handoff is the acceptor's side of adopt: it runs on the loop that accepted fd
// and queues the adoption on n's loop. The fds wait in n's inbox, and one task
// adopts all that came in meanwhile, so an accept burst costs one Submit per
// loop instead of one per conn, and no allocation per conn.
func (n *node) handoff(fd int, h transport.Handler) { n.handoffFrom(fd, h, netip.AddrPort{}) }

// handoffFrom is handoff for a conn whose client's address came from a PROXY
// header (see adoptFrom).
func (n *node) handoffFrom(fd int, h transport.Handler, remote netip.AddrPort) {
	n.handedOff()
	n.inboxMu.Lock()
	first := len(n.inbox) == 0
	n.inbox = append(n.inbox, handedOff{fd: fd, h: h, remote: remote})
	n.inboxMu.Unlock()
	if !first {
		return // the task that adopts the first one adopts this one too
	}
	if err := n.l.Submit(n.adoptFn); err != nil {
		// The loop is stopping: nobody will adopt what waits in the inbox.
		for _, x := range n.takeInbox() {
			n.droppedHandOff()
			conns.Refuse(x.fd)
		}
	}
}

// handedOff is an accepted fd waiting in a loop's inbox.
type handedOff struct {
	fd     int
	h      transport.Handler
	remote netip.AddrPort // from a PROXY header; zero otherwise
}

// adoptInbox adopts every fd waiting in the inbox. Loop goroutine only.
func (n *node) adoptInbox() {
	batch := n.takeInbox()
	for i, x := range batch {
		n.adopting()
		n.adoptFrom(x.fd, x.h, x.remote)
		batch[i] = handedOff{}
	}
	n.inboxMu.Lock()
	if n.spare == nil {
		n.spare = batch[:0] // reused by the next takeInbox
	}
	n.inboxMu.Unlock()
}

// takeInbox swaps the inbox for an empty one and returns what it held.
func (n *node) takeInbox() []handedOff {
	n.inboxMu.Lock()
	defer n.inboxMu.Unlock()
	batch := n.inbox
	n.inbox, n.spare = n.spare, nil
	return batch
}

// counted wraps a handler so the engine sees its conns close. One wrapper is made
// per (Listen, loop), not per conn.
type counted struct {
	transport.Handler
	n *node
}

func (w *counted) OnClose(c *transport.Conn, err error) {
	w.n.closedConn()
	w.Handler.OnClose(c, err)
}

// Busy forwards Shutdown's question to the handler when it is a Busier.
func (w *counted) Busy(c *transport.Conn) bool {
	b, ok := w.Handler.(Busier)
	return ok && b.Busy(c)
}

// countedEOF is counted for handlers that implement transport.EOFHandler, so the
// wrapper keeps their half-close behaviour (and does not impose it on others).
type countedEOF struct {
	counted
	eof transport.EOFHandler
}

func (w *countedEOF) OnEOF(c *transport.Conn) { w.eof.OnEOF(c) }

func (n *node) wrap(h transport.Handler) transport.Handler {
	if eh, ok := h.(transport.EOFHandler); ok {
		return &countedEOF{counted: counted{Handler: h, n: n}, eof: eh}
	}
	return &counted{Handler: h, n: n}
}
