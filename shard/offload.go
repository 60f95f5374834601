package shard

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/panjf2000/ants/v2"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// overloadRetry is how often a loop with conns paused by ErrOverloaded checks
// whether the pool has room again: the pool frees workers on other loops' behalf
// too, so no completion on this loop need ever come to wake them.
const overloadRetry = time.Millisecond

// job is one Offload: its result travels from the worker back to the conn's loop.
type job struct {
	n      *node
	c      *transport.Conn
	work   func() any
	done   func(c *transport.Conn, result any)
	result any  // set by the worker before it submits complete
	ready  bool // loop goroutine only: the result is back
}

// offloadQueue is one conn's offloads in call order, and whether the engine
// paused the conn's reads for overload.
type offloadQueue struct {
	jobs   []*job
	paused bool
}

// Offload runs work on the worker pool and then done(c, result) on c's loop. The
// done calls of one conn run in the order Offload was called for it, even when
// the works finish out of order, and they run even if c has closed meanwhile
// (check c.State()). A work that panics gives done a *loop.PanicError as its
// result. When the pool is busy or c has MaxInFlight offloads in flight, Offload
// returns ErrOverloaded and pauses c's reads (apart from the handler's own
// PauseRead, which it does not disturb) until all of c's offloads in flight
// have completed and a worker is free: leave the request unread, and OnData sees
// it again then. Loop goroutine of c only.
func (e *Engine) Offload(c *transport.Conn, work func() any, done func(c *transport.Conn, result any)) error {
	switch {
	case e.pool == nil:
		return ErrNoWorkers
	case work == nil || done == nil:
		return errors.New("shard: Offload: nil work or done")
	case c == nil:
		return ErrForeignConn
	case c.State() == transport.Closed:
		return transport.ErrClosed
	}
	n := e.nodeOf(c.Loop())
	if n == nil {
		return ErrForeignConn
	}
	q := n.offloads[c]
	if q != nil && e.opts.MaxInFlight > 0 && len(q.jobs) >= e.opts.MaxInFlight {
		n.pauseForOverload(c)
		return ErrOverloaded
	}
	j := &job{n: n, c: c, work: work, done: done}
	e.busy.Inc()
	if err := e.pool.Submit(j.run); err != nil {
		e.busy.Dec()
		if errors.Is(err, ants.ErrPoolOverload) {
			n.pauseForOverload(c)
			return ErrOverloaded
		}
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if q == nil {
		q = &offloadQueue{}
		n.offloads[c] = q
	}
	q.jobs = append(q.jobs, j)
	n.inFlight.Inc()
	return nil
}

// nodeOf returns the node of loop l, or nil if l is not one of the engine's.
func (e *Engine) nodeOf(l *loop.Loop) *node {
	if id := l.ID(); id >= 0 && id < len(e.nodes) && e.nodes[id].l == l {
		return e.nodes[id]
	}
	return nil
}

// run is the worker's part: do the work, then hand the result to the loop.
func (j *job) run() {
	j.result = j.protected()
	j.work = nil
	j.n.e.busy.Dec()
	// Submit orders the write of j.result before complete reads it.
	if j.n.l.Submit(j.complete) != nil {
		j.n.inFlight.Dec() // the loop has stopped: nobody will run done
	}
}

func (j *job) protected() (result any) {
	defer func() {
		if r := recover(); r != nil {
			pe := &loop.PanicError{Value: r, Stack: debug.Stack()}
			j.n.l.Logger().Error("shard: offloaded work panicked", "loop", j.n.id, "err", pe, "stack", string(pe.Stack))
			result = pe
		}
	}()
	return j.work()
}

// complete runs on the loop: mark the job ready, then deliver every ready job at
// the head of its conn's queue, in call order.
func (j *job) complete() {
	j.ready = true
	n, c := j.n, j.c
	q := n.offloads[c]
	for q != nil && len(q.jobs) > 0 && q.jobs[0].ready {
		next := q.jobs[0]
		q.jobs[0] = nil
		q.jobs = q.jobs[1:]
		n.inFlight.Dec()
		n.deliver(next)
	}
	if q != nil && len(q.jobs) == 0 {
		switch {
		case !q.paused:
			delete(n.offloads, c)
		case c.State() == transport.Closed:
			n.forget(c, q)
		default:
			n.resume(c, q) // its completions drained: it may read again
		}
	}
	n.retryWaiters()
}

// deliver calls done; a panic in it is reported and closes that conn only, so
// the done calls queued behind it still run.
func (n *node) deliver(j *job) {
	defer func() {
		if r := recover(); r != nil {
			conns.Fail(j.c, &loop.PanicError{Value: r, Stack: debug.Stack()})
		}
	}()
	j.done(j.c, j.result)
}

// pauseForOverload pauses c's reads until there is room for its offloads again.
func (n *node) pauseForOverload(c *transport.Conn) {
	q := n.offloads[c]
	if q == nil {
		q = &offloadQueue{}
		n.offloads[c] = q
	}
	if q.paused {
		return
	}
	q.paused = true
	conns.Throttle(c, true)
	n.waiting = append(n.waiting, c)
	n.armRetry()
}

// armRetry makes retryWaiters run after overloadRetry, unless it is due already.
func (n *node) armRetry() {
	if n.retryArmed {
		return
	}
	n.retryArmed = true
	if n.retry == (loop.Timer{}) {
		n.retry = n.l.AfterFunc(overloadRetry, n.retryTick)
	} else {
		n.retry.Reset(overloadRetry)
	}
}

func (n *node) retryTick() {
	n.retryArmed = false
	n.retryWaiters()
}

// retryWaiters resumes the paused conns that have room again: none of their own
// offloads in flight beyond the cap, and a free worker. Those that must still
// wait are retried after overloadRetry.
func (n *node) retryWaiters() {
	if len(n.waiting) == 0 {
		return
	}
	keep := n.waiting[:0]
	for _, c := range n.waiting {
		q := n.offloads[c]
		switch {
		case q == nil || !q.paused:
			// resumed already (its queue drained)
		case c.State() == transport.Closed:
			n.forget(c, q)
		case n.hasRoom(q):
			n.resume(c, q)
		default:
			keep = append(keep, c)
		}
	}
	clear(n.waiting[len(keep):])
	n.waiting = keep
	if len(keep) > 0 {
		n.armRetry()
	}
}

// hasRoom reports whether a paused conn may read again: its own offloads have
// drained, and the pool has a free worker.
func (n *node) hasRoom(q *offloadQueue) bool {
	return len(q.jobs) == 0 && n.e.busy.Load() < int64(n.e.opts.Workers)
}

func (n *node) resume(c *transport.Conn, q *offloadQueue) {
	n.forget(c, q)
	conns.Throttle(c, false)
}

// forget drops c's overload pause; its offloads in flight, if any, still
// complete and deliver.
func (n *node) forget(c *transport.Conn, q *offloadQueue) {
	q.paused = false
	if len(q.jobs) == 0 {
		delete(n.offloads, c)
	}
}
