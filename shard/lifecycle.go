package shard

import (
	"context"
	"time"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// drainScan is how often a draining loop looks for conns that went idle. Conns
// say nothing when their last write drains or their offloads finish, so the
// loop looks; 10 ms is quick next to any client's patience and costs nothing
// measurable (one pass over the loop's targets).
const drainScan = 10 * time.Millisecond

// drainRecent is how long a conn must have read nothing before Shutdown takes it
// for idle: a client uploading over a slow link, or through small buffers, has
// quiet moments of a few milliseconds in which nothing is buffered anywhere,
// and closing it then cuts the upload short. Conns are looked at every
// drainScan; a conn is not idle if it read anything in the current window of
// drainRecent or the one before, so it is idle after 100 to 200 ms without a
// byte in.
const drainRecent = 100 * time.Millisecond

// drainState is one loop's part in a Shutdown. Loop goroutine only.
type drainState struct {
	active    bool
	timer     loop.Timer
	onDrained func() // called once, when the loop has no conn and no offload left
	scratch   []*transport.Conn
	passes    int // drainPass calls so far: every drainRecent/drainScan-th starts a window
}

// Shutdown stops the engine gracefully: it closes the listeners at once (new
// connects are refused from then on), lets in-flight offloads finish and queued
// writes drain, closes every conn as soon as it is idle (nothing buffered either
// way, no offload in flight, no unread bytes in the kernel, no byte read for
// 100 ms or more, and its handler not Busy), and returns once all conns are
// closed and the loops stopped. When ctx ends first, whatever remains
// is closed at once (OnClose gets the error) and Shutdown returns ctx.Err(). A
// second call waits for the first. Not on a loop goroutine.
func (e *Engine) Shutdown(ctx context.Context) error {
	if e.inAnyLoop() {
		return ErrInLoop
	}
	e.life.Lock()
	state := e.getState()
	if state == created || state == running {
		if by, ok := ctx.Deadline(); ok {
			e.drainBy.Store(by.UnixNano())
		}
		e.state.Store(int32(draining))
		// Under life, so that a concurrent Close cannot close the loops while a
		// listener is being closed on one.
		e.closeListeners()
	}
	e.life.Unlock()
	switch state {
	case closed:
		<-e.stopped
		return nil
	case draining: // another Shutdown drains: wait for it
		select {
		case <-e.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.log.Info("sycamore: shutting down", "conns", e.conns.Load())
	var err error
	if state == running {
		err = e.drain(ctx)
	}
	e.finishOnce.Do(e.finish)
	return err
}

// Draining reports whether the engine is shutting down (Shutdown, or Close,
// has begun), and the deadline of the Shutdown's context if it has one. A
// handler that keeps conns open between requests reads it to end them
// gracefully: an HTTP server answers the next request with "Connection: close",
// and reports a conn between requests Busy until the deadline nears. Safe from
// any goroutine.
func (e *Engine) Draining() (deadline time.Time, ok bool) {
	if e.getState() < draining {
		return time.Time{}, false
	}
	if by := e.drainBy.Load(); by != 0 {
		deadline = time.Unix(0, by)
	}
	return deadline, true
}

// closeListeners closes every listener; each Close waits for its loop, so no conn
// is accepted after it returns.
func (e *Engine) closeListeners() {
	e.mu.Lock()
	lns := e.listeners
	e.listeners = nil
	e.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	e.closePackets()
}

// drain has every loop close its conns as they go idle, and waits until all have
// none left, or ctx ends, or Close interrupts.
func (e *Engine) drain(ctx context.Context) error {
	var remaining atomic.Int64
	remaining.Store(int64(len(e.nodes)))
	all := make(chan struct{})
	finished := func() { // runs once per loop, on that loop
		if remaining.Dec() == 0 {
			close(all)
		}
	}
	for _, n := range e.nodes {
		if n.l.Submit(func() { n.startDrain(finished) }) != nil {
			finished()
		}
	}
	select {
	case <-all:
		return nil
	case <-e.stopped:
		return nil
	case <-ctx.Done():
		e.log.Warn("sycamore: shutdown deadline: closing the remaining conns", "conns", e.conns.Load())
		return ctx.Err()
	}
}

// startDrain begins this loop's part of a Shutdown. Loop goroutine only.
func (n *node) startDrain(onDrained func()) {
	n.drain.active = true
	n.drain.onDrained = onDrained
	n.drainPass()
}

// drainPass closes the idle conns and, once none is left, reports the loop
// drained; otherwise it looks again after drainScan.
func (n *node) drainPass() {
	d := &n.drain
	if !d.active {
		return
	}
	busy := 0
	forget := d.passes%int(drainRecent/drainScan) == 0
	d.passes++
	for t := range n.l.Targets() {
		c, ok := conns.Of(t)
		if !ok {
			continue
		}
		if n.idle(c, forget) {
			d.scratch = append(d.scratch, c)
		} else {
			busy++
		}
	}
	for i, c := range d.scratch {
		c.Close()
		if c.State() != transport.Closed {
			busy++ // still writing what it queued
		}
		d.scratch[i] = nil
	}
	d.scratch = d.scratch[:0]
	if busy == 0 && len(n.offloads) == 0 {
		d.active = false
		d.onDrained()
		return
	}
	if d.timer == (loop.Timer{}) {
		d.timer = n.l.AfterFunc(drainScan, n.drainPass)
	} else {
		d.timer.Reset(drainScan)
	}
}

// idle reports whether c can be closed without losing anything: open, nothing
// buffered either way, no offload in flight, nothing read in this window of
// drainRecent or the last (forget starts a new one), its handler not busy
// (Busier), and no bytes waiting in the kernel.
func (n *node) idle(c *transport.Conn, forget bool) bool {
	if conns.Received(c, forget) || n.offloads[c] != nil || !conns.Quiet(c) {
		return false
	}
	b, ok := c.Handler().(Busier)
	return !ok || !b.Busy(c)
}

// Close stops the engine at once: listeners and conns are closed (OnClose gets
// loop.ErrClosed) and the loops stop. Offload results already back on a loop
// are delivered (done runs, on the closing goroutine, before the conns close);
// works still running finish on their workers, but their done is not called.
// Calling it again does nothing. Not on a loop goroutine.
func (e *Engine) Close() error {
	if e.inAnyLoop() {
		return ErrInLoop
	}
	e.life.Lock()
	e.state.Store(int32(closed))
	e.life.Unlock()
	e.finishOnce.Do(e.finish)
	<-e.stopped
	return nil
}

// finish stops and closes every loop (finalizing the listeners and conns still
// registered), releases the pool, and closes e.stopped.
func (e *Engine) finish() {
	e.life.Lock()
	defer e.life.Unlock()
	e.state.Store(int32(closed))
	for _, n := range e.nodes {
		n.l.Stop()
	}
	if acceptor := e.acceptor.Load(); acceptor != nil {
		acceptor.Stop()
	}
	e.running.Wait()
	e.closeLoops()
	for _, n := range e.nodes {
		n.dropUndelivered()
	}
	if e.pool != nil {
		e.releasePool()
	}
	e.mu.Lock()
	e.listeners = nil
	e.mu.Unlock()
	close(e.stopped)
	e.log.Info("sycamore: engine stopped")
}

// closeLoops closes the acceptor first (no more hand-offs), then every loop.
func (e *Engine) closeLoops() {
	if acceptor := e.acceptor.Load(); acceptor != nil {
		acceptor.Close()
	}
	for _, n := range e.nodes {
		n.l.Close()
	}
}

// poolWait bounds how long finish waits for the pool's goroutines to exit when no
// work is running: they only need to notice the release.
const poolWait = time.Second

// releasePool stops the worker pool. With no offload in flight it waits (up to
// poolWait) for the pool's goroutines to exit, so none outlives the engine;
// workers still running user work finish it on their own.
func (e *Engine) releasePool() {
	for _, n := range e.nodes {
		if n.inFlight.Load() > 0 {
			e.pool.Release()
			return
		}
	}
	if err := e.pool.ReleaseTimeout(poolWait); err != nil {
		e.log.Warn("sycamore: worker pool did not stop in time", "err", err)
	}
}

// dropUndelivered forgets the offloads whose done will never run now that the
// loop is closed: results that came back but waited behind an earlier work
// still running. (Works still running uncount themselves when their result
// cannot be handed to the loop.) Called once the loop is closed.
func (n *node) dropUndelivered() {
	for c, q := range n.offloads {
		for _, j := range q.jobs {
			if j.ready {
				n.inFlight.Dec()
			}
		}
		delete(n.offloads, c)
	}
	n.waiting = nil
}
