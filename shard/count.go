package shard

import "go.uber.org/atomic"

// connCounts are one loop's conn counters. They and the engine's own (conns and
// refused) change only through the methods in this file, so the counts cannot
// drift apart: every path a conn takes (accepted, handed off, adopted, dialled,
// refused, failed, closed) is one call here.
type connCounts struct {
	// Read by the balancer and Stats from any goroutine.
	open    atomic.Int64 // conns open on this loop
	pending atomic.Int64 // conns handed to this loop and not adopted yet
	// pendingSince is when pending last rose from zero, lastAdopt when the loop
	// last adopted a conn (nanoseconds on the engine's clock): together they tell
	// a loop that is stuck from one that is merely busy.
	pendingSince, lastAdopt   atomic.Int64
	accepted, closed, refused atomic.Uint64
}

// admit applies MaxConns to a freshly accepted conn: it counts the conn in, or
// counts it refused (on n's loop, or on the engine for the acceptor's hand-off
// when n is nil) and returns false; the caller then refuses the socket.
func (e *Engine) admit(n *node) bool {
	limit := int64(e.opts.MaxConns)
	if limit == 0 {
		e.conns.Inc()
		return true
	}
	// With ReusePort every loop admits on its own: compare and swap, so that
	// two loops cannot both take the last place.
	for {
		conns := e.conns.Load()
		if conns >= limit {
			break
		}
		if e.conns.CompareAndSwap(conns, conns+1) {
			return true
		}
	}
	if n != nil { // counted first: the client may look at Stats once it sees the close
		n.count.refused.Inc()
	} else {
		e.refused.Inc()
	}
	return false
}

// handedOff counts an admitted conn on its way to n's loop.
func (n *node) handedOff() {
	if n.count.pending.Inc() == 1 {
		n.count.pendingSince.Store(n.e.clock())
	}
}

// adopting counts a handed-off conn as picked up by n's loop.
func (n *node) adopting() {
	n.count.lastAdopt.Store(n.e.clock())
	n.count.pending.Dec()
}

// droppedHandOff counts a handed-off conn refused because n's loop stopped.
func (n *node) droppedHandOff() {
	n.count.pending.Dec()
	n.e.conns.Dec()
	n.count.refused.Inc()
}

// opening counts an admitted conn about to open on n's loop: before OnOpen, which
// may close it again (closedConn then counts it out).
func (n *node) opening() {
	n.count.open.Inc()
	n.count.accepted.Inc()
}

// openFailed undoes opening for a conn that could not be made.
func (n *node) openFailed() {
	n.count.open.Dec()
	n.count.accepted.Dec()
	n.e.conns.Dec()
}

// dialling counts a conn Dial makes on n's loop; dialFailed undoes it.
func (n *node) dialling() {
	n.count.open.Inc()
	n.e.conns.Inc()
}

func (n *node) dialFailed() {
	n.count.open.Dec()
	n.e.conns.Dec()
}

// closedConn counts a conn of n's loop out: its OnClose ran.
func (n *node) closedConn() {
	n.count.open.Dec()
	n.count.closed.Inc()
	n.e.conns.Dec()
}
