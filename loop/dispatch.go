package loop

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/sycamore-go/sycamore/poller"
)

// DispatchOnce runs one round: wait up to timeout for events (less if a timer is
// due sooner, zero if tasks are queued), deliver each event to its target, close
// the fds released while doing so, run the due timers, run the tasks submitted so
// far, then the round-end calls (AtRoundEnd). A negative timeout waits until an event, a timer or a Submit. Loop
// goroutine only; the first goroutine to call it becomes the loop goroutine of a
// loop that is not running under Run.
func (l *Loop) DispatchOnce(timeout time.Duration) error {
	if l.isClosed.Load() {
		return ErrClosed
	}
	if l.owner.Load() == 0 {
		l.owner.Store(goroutineID())
	}
	n, err := l.wait(l.waitTimeout(timeout))
	l.awake.Store(true)
	if err != nil {
		return err
	}
	l.roundTime = time.Now()
	l.dispatching = true
	for i := 0; i < n; i++ {
		l.dispatchEvent(l.events[i])
	}
	l.dispatching = false
	l.closeReleased()
	fired := l.runTimers(l.monotonic())
	tasks := l.runTasks()
	l.runRoundEnd()
	l.stats.round(n, fired, tasks, time.Since(l.roundTime))
	return nil
}

// wait is the round's poller Wait. With Config.SpinWait it polls without
// blocking first, until events come, a task is queued (Submit wakes the poller
// only for a sleeping loop, and that wakeup is drained inside Wait without
// showing as an event, so the queue is checked here) or the spin runs out; then
// it blocks for what is left of timeout.
func (l *Loop) wait(timeout time.Duration) (int, error) {
	spin := l.cfg.SpinWait
	if spin <= 0 || timeout == 0 {
		return l.p.Wait(l.events, timeout)
	}
	if timeout > 0 && timeout < spin {
		spin = timeout
	}
	start := time.Now()
	for {
		n, err := l.p.Wait(l.events, 0)
		if n > 0 || err != nil || l.tasks.queued.Load() > 0 || l.stopping.Load() {
			return n, err
		}
		if time.Since(start) >= spin {
			break
		}
	}
	if timeout > 0 {
		timeout -= time.Since(start)
		if timeout <= 0 {
			return 0, nil
		}
	}
	return l.p.Wait(l.events, timeout)
}

// waitTimeout is the longest this round may block. It also clears awake before
// looking at the task queue: a Submit either lands before that look (and the round
// does not block) or sees awake false and wakes the poller. Either way no task
// waits for an unrelated event.
func (l *Loop) waitTimeout(timeout time.Duration) time.Duration {
	l.awake.Store(false)
	if l.tasks.queued.Load() > 0 || len(l.roundEnd) > 0 || l.stopping.Load() {
		return 0
	}
	if next := l.nextTimer(l.monotonic()); next >= 0 && (timeout < 0 || next < timeout) {
		return next
	}
	return timeout
}

// dispatchEvent hands ev to its target, then applies what the handler changed: the
// interest it set, a DeferWrite notification it consumed, and (for a Filterer) the
// filter it now returns. Events for an fd with no target, or whose target was
// released earlier in this batch, are dropped.
func (l *Loop) dispatchEvent(ev poller.Event) {
	i := l.lookup(ev.Fd)
	if i < 0 {
		return
	}
	s := &l.slots[i]
	t := s.t
	if s.oneshot && ev.Ready&(poller.Writable|poller.Hangup|poller.Error) != 0 {
		s.oneshot = false
		s.dirty = true
	}
	l.current = ev.Fd
	l.deliver(t, ev)
	l.current = -1
	// The handler may have registered or released targets, moving slots around.
	i = l.lookup(ev.Fd)
	if i < 0 || l.slots[i].t != t {
		return
	}
	s = &l.slots[i]
	if s.filters {
		want, ok := l.readFilter(t)
		if !ok {
			return // Filter panicked; the target is gone
		}
		s = &l.slots[i]
		s.want = want
		s.dirty = true
	}
	if s.dirty {
		if err := l.apply(i); err != nil {
			l.reportError(t, fmt.Errorf("loop: update interest of fd %d: %w", ev.Fd, err))
		}
	}
}

// readFilter calls t's Filter, treating a panic like a handler panic.
func (l *Loop) readFilter(t Target) (in poller.Interest, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			l.targetPanicked(t, &PanicError{Value: r, Stack: debug.Stack()})
			ok = false
		}
	}()
	return t.(Filterer).Filter(), true
}

// deliver calls the handler, turning a panic into a *PanicError for OnError and
// giving up the target.
func (l *Loop) deliver(t Target, ev poller.Event) {
	defer func() {
		if r := recover(); r != nil {
			l.current = -1
			l.targetPanicked(t, &PanicError{Value: r, Stack: debug.Stack()})
		}
	}()
	t.HandleEvent(ev)
}

func (l *Loop) targetPanicked(t Target, err error) {
	l.reportError(t, err)
	if l.slotOf(t) < 0 {
		return
	}
	if f, ok := t.(Finalizer); ok {
		l.runGuarded(t, func() { f.Finalize(err) })
	}
	if l.slotOf(t) >= 0 {
		l.Release(t)
	}
}

// runGuarded runs f, reporting a panic to OnError instead of unwinding the loop.
func (l *Loop) runGuarded(t Target, f func()) {
	defer func() {
		if r := recover(); r != nil {
			l.reportError(t, &PanicError{Value: r, Stack: debug.Stack()})
		}
	}()
	f()
}

// AtRoundEnd arranges for r.OnRoundEnd to run once at the end of the current round,
// after the tasks (or of the next round, when called outside one or from an
// OnRoundEnd). The caller remembers that it asked; asking twice means two calls.
// Loop goroutine only.
func (l *Loop) AtRoundEnd(r RoundEnder) {
	l.roundEnd = append(l.roundEnd, r)
}

// runRoundEnd calls the RoundEnders queued so far; those they queue wait for the
// next round, so two targets that keep asking cannot hold the loop in one round.
func (l *Loop) runRoundEnd() {
	if len(l.roundEnd) == 0 {
		return
	}
	batch := l.roundEnd
	l.roundEnd = l.spareEnd[:0]
	for i, r := range batch {
		batch[i] = nil
		if t, ok := r.(Target); ok {
			l.runGuarded(t, r.OnRoundEnd)
		} else {
			l.runGuarded(nil, r.OnRoundEnd)
		}
	}
	l.spareEnd = batch[:0]
}

// HandleError passes err to Config.OnError (by default, logs it). Targets use it
// for errors and recovered panics they cannot return to anyone. Loop goroutine only.
func (l *Loop) HandleError(t Target, err error) { l.reportError(t, err) }

func (l *Loop) reportError(t Target, err error) {
	if l.cfg.OnError != nil {
		l.cfg.OnError(t, err)
		return
	}
	fd := -1
	if t != nil {
		fd = t.Fd()
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		l.logger.Error("loop: handler panicked", "loop", l.cfg.ID, "fd", fd, "err", err, "stack", string(pe.Stack))
		return
	}
	l.logger.Error("loop: error", "loop", l.cfg.ID, "fd", fd, "err", err)
}

// Submit queues task to run on the loop goroutine, after the events of the current
// or next round, in the order of Submit calls. It wakes the loop only if it is
// asleep, and bursts of wakes coalesce into one syscall. Safe from any goroutine,
// the loop goroutine included; it returns ErrClosed after Stop.
func (l *Loop) Submit(task func()) error {
	if task == nil {
		return errors.New("loop: Submit of a nil task")
	}
	return l.tasks.push(task, l.asleep, l.p.Wake)
}

func (l *Loop) asleep() bool { return !l.awake.Load() }

// runTasks runs the tasks queued before it started; tasks they submit run next
// round.
func (l *Loop) runTasks() int {
	if l.tasks.queued.Load() == 0 {
		return 0
	}
	batch := l.tasks.take()
	for _, task := range batch {
		l.runGuarded(nil, task)
	}
	l.tasks.done(batch)
	return len(batch)
}

// Run drives the loop until Stop or until ctx ends, on a locked OS thread pinned to
// Config.CPU unless that is NoPin. A pinned Run never unlocks its thread: when the
// goroutine that called Run exits, Go ends the pinned thread instead of reusing it,
// so start Run in a goroutine of its own (go l.Run(ctx)). Run returns nil after
// Stop, ctx.Err() when ctx ended, ErrRunning if already running and ErrClosed after
// Close. Tasks submitted before Stop have run when Run returns.
func (l *Loop) Run(ctx context.Context) error {
	if !l.runMu.TryLock() {
		return ErrRunning
	}
	defer l.runMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	runtime.LockOSThread()
	if l.cfg.CPU >= 0 {
		if err := pinThread(l.cfg.CPU); err != nil {
			runtime.UnlockOSThread()
			return fmt.Errorf("loop %d: pin to CPU %d: %w", l.cfg.ID, l.cfg.CPU, err)
		}
		// No UnlockOSThread: see the doc comment.
	} else {
		defer runtime.UnlockOSThread()
	}
	l.owner.Store(goroutineID())
	defer l.owner.Store(0)
	l.running.Store(true)
	defer l.running.Store(false)
	stopOnCancel := context.AfterFunc(ctx, l.Stop)
	defer stopOnCancel()

	err := Iterate(l, &Vars{Timeout: -1, Count: -1, Before: l.stopHook})
	l.drainAtExit()
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// drainAtExit runs, as one last round would, the tasks Submit accepted before Stop
// and the round-end calls they (or the last round) asked for.
func (l *Loop) drainAtExit() {
	l.runTasks()
	l.runRoundEnd()
	l.runRoundEnd() // those queued by the first pass
	l.stats.publishBytes()
}

func (l *Loop) stopHook(*Vars) error {
	if l.stopping.Load() {
		return ErrStop
	}
	return nil
}

// Stop makes Run return after the current round and makes Submit return ErrClosed.
// Safe from any goroutine; calling it again does nothing.
func (l *Loop) Stop() {
	if l.stopping.Swap(true) {
		return
	}
	l.tasks.close(func() { l.p.Wake() })
}

// Close stops the loop, waits for Run to return, runs the tasks still queued, gives
// every target still registered to its Finalize (with ErrClosed) or closes its fd,
// and releases the poller. Safe from any goroutine except the loop goroutine inside
// a round; calling it again returns ErrClosed.
func (l *Loop) Close() error {
	l.Stop()
	l.runMu.Lock()
	defer l.runMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	l.isClosed.Store(true)
	l.owner.Store(goroutineID()) // the closing goroutine now acts as the loop goroutine
	defer l.owner.Store(0)
	l.drainAtExit()
	for len(l.slots) > 0 {
		t := l.slots[len(l.slots)-1].t
		if f, ok := t.(Finalizer); ok {
			l.runGuarded(t, func() { f.Finalize(ErrClosed) })
		}
		if l.slotOf(t) >= 0 {
			l.Release(t)
		}
	}
	for _, t := range l.timers {
		t.index = -1 // so a later Stop or Reset finds it not pending
	}
	l.timers = nil
	l.stats.timers.Store(0)
	var err error
	l.tasks.locked(func() { err = l.p.Close() })
	return err
}
