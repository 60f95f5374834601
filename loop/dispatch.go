package loop

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/sycamore-go/sycamore/poller"
)

// DispatchOnce runs one round: wait up to timeout for events (less if a timer is
// due sooner, zero if tasks or round-end calls are queued), deliver each event to
// its target, close the fds released while doing so, run the due timers, run the
// tasks submitted so far, then the round-end calls. A negative timeout waits until
// an event, a timer or a Submit. Loop goroutine only; the first goroutine to call
// it becomes the loop goroutine of a loop that is not running under Run.
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
	l.dispatchEvents(n)
	fired := l.runTimers(l.monotonic())
	tasks := l.runTasks()
	l.runRoundEnd()
	l.stats.round(n, fired, tasks, time.Since(l.roundTime))
	return nil
}

// wait is the round's wait for events, as Config.Wait says: poller.Park, whose
// goroutine the Go runtime wakes, or poller.Wait, whose thread the kernel wakes.
// Neither sleeps while events are pending (Park polls without blocking first;
// epoll_wait returns at once), so a loop under load never sleeps between
// back-to-back batches.
func (l *Loop) wait(timeout time.Duration) (int, error) {
	if l.cfg.Wait == WaitPark {
		return l.p.Park(l.events, timeout)
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

// dispatchEvents delivers the batch's n events, then closes the fds released
// meanwhile. Events for an fd with no registration, or whose registration was
// dropped earlier in this batch, are dropped.
func (l *Loop) dispatchEvents(n int) {
	l.dispatching = true
	for i := 0; i < n; i++ {
		ev := l.events[i]
		if r := l.lookup(ev.Fd); r != nil {
			r.Deliver(ev)
		}
	}
	l.dispatching = false
	l.closeReleased()
}

// Deliver hands ev to the target exactly as the loop hands it a polled event: as
// one of its callbacks, spending an armed write notification when ev is writable.
// The loop calls it for every event; an owner that learns of readiness another
// way (a completion-based backend, a test) may call it too. r must be registered.
// Loop goroutine only.
func (r *Registration) Deliver(ev poller.Event) {
	if r.flags&writeOnce != 0 && ev.Ready&(poller.Writable|poller.Hangup|poller.Error) != 0 {
		r.flags |= writeOnceDue
	}
	l := r.l
	prev := l.current
	l.current = r
	defer l.settle(r, prev)
	r.t.HandleEvent(ev)
}

// Call runs f(target) as one of the target's callbacks, the way the loop runs
// HandleEvent: InCallback reports true meanwhile, interest set inside reaches the
// poller once when f returns, and a panic is reported to OnError and gives the
// target up (Finalize, or Release). transport opens its conns with it, so that a
// panicking OnOpen closes the conn like a panicking OnData. r must be registered.
// Loop goroutine only.
func (r *Registration) Call(f func(t Target)) {
	l := r.l
	prev := l.current
	l.current = r
	defer l.settle(r, prev)
	f(r.t)
}

// settle ends a callback of r, deferred by deliver and Call: it makes prev the
// running callback again, turns a panic into a *PanicError that gives the target
// up, spends a write notification the callback was delivered, reads a Filterer's
// interest, and applies the interest to the poller.
func (l *Loop) settle(r *Registration, prev *Registration) {
	l.current = prev
	if v := recover(); v != nil {
		l.giveUp(r, &PanicError{Value: v, Stack: debug.Stack()})
		return
	}
	if r.flags&registered == 0 {
		return
	}
	if r.flags&writeOnceDue != 0 {
		r.flags &^= writeOnce | writeOnceDue
	}
	if r.flags&filters != 0 && !l.readFilter(r) {
		return
	}
	if err := l.apply(r); err != nil {
		l.giveUp(r, fmt.Errorf("loop: update interest of fd %d: %w", r.fd, err))
	}
}

// readFilter sets r's interest from its target's Filter. A panic in Filter gives
// the target up, as in a callback, and readFilter returns false.
func (l *Loop) readFilter(r *Registration) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			l.giveUp(r, &PanicError{Value: v, Stack: debug.Stack()})
			ok = false
		}
	}()
	r.want = r.t.(Filterer).Filter()
	return true
}

// giveUp reports err and lets go of r's target without its asking: its Finalize
// runs (and must release it), or the loop releases it.
func (l *Loop) giveUp(r *Registration, err error) {
	t := r.t
	l.reportError(t, err)
	if r.flags&registered == 0 {
		return
	}
	if f, ok := t.(Finalizer); ok {
		l.runGuarded(t, func() { f.Finalize(err) })
	}
	if r.flags&registered != 0 {
		r.Release()
	}
}

// runGuarded runs f, reporting a panic to OnError instead of unwinding the loop.
func (l *Loop) runGuarded(t Target, f func()) {
	defer func() {
		if v := recover(); v != nil {
			l.reportError(t, &PanicError{Value: v, Stack: debug.Stack()})
		}
	}()
	f()
}

// runRoundEnd calls the OnRoundEnd of the registrations queued so far, each as a
// callback; those they queue wait for the next round, so two targets that keep
// asking cannot hold the loop in one round.
func (l *Loop) runRoundEnd() {
	if len(l.roundEnd) == 0 {
		return
	}
	batch := l.roundEnd
	l.roundEnd = l.spareEnd[:0]
	for i, r := range batch {
		batch[i] = nil
		r.flags &^= roundEndDue
		if r.flags&registered != 0 {
			r.Call(callRoundEnd)
		}
	}
	l.spareEnd = batch[:0]
}

func callRoundEnd(t Target) { t.(RoundEnder).OnRoundEnd() }

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
