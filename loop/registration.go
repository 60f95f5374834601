package loop

import (
	"errors"
	"iter"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/owner"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/poller"
)

// Registration is a target's place on one loop and its owner's handle to it:
// through it the owner changes the interest, arms one write notification, asks for
// a round-end call and gives the fd up, without the loop looking the target up.
// The zero value is unregistered; Register makes one, Attach fills in one the
// caller owns. Its methods are for the loop goroutine only.
type Registration struct {
	l      *Loop
	t      Target
	fd     int32
	want   poller.Interest // what the owner asked for
	kernel poller.Interest // what the poller holds; 0 means the fd is not in it
	flags  regFlags
}

// regFlags are a registration's small state. The interest the poller should hold
// is want, plus Writable while writeOnce is set; kernel differs from it only while
// the target's own callback runs.
type regFlags uint8

const (
	registered regFlags = 1 << iota
	filters             // the target implements Filterer
	writeOnce           // a DeferWrite notification is armed
	// writeOnceDue: the event being delivered is the armed notification. It is
	// spent when the callback returns, unless the callback arms it again.
	writeOnceDue
	roundEndDue // OnRoundEnd is queued for this round's end
)

// Register starts watching t.Fd() for in and delivers its events to t, with a
// Registration of its own (Handle finds it). A target implementing Filterer has
// Filter consulted after each of its events. Loop goroutine only.
func (l *Loop) Register(t Target, in poller.Interest) error {
	return l.Attach(new(Registration), t, in)
}

// Attach registers t as Register does, with r as its registration: r is storage the
// caller owns, typically a field of the target itself, so that registering
// allocates nothing. r must not be registered already; once Unregister or Release
// gives it up it must not be attached again. Loop goroutine only.
func (l *Loop) Attach(r *Registration, t Target, in poller.Interest) error {
	if owner.Checks {
		l.CheckOwner("loop.Attach")
	}
	fd := t.Fd()
	switch {
	case fd < 0:
		return ErrBadFd
	case r.flags&registered != 0 || l.lookup(fd) != nil:
		return ErrRegistered
	}
	if fd >= len(l.fdIndex) {
		grown := make([]*Registration, max(fd+1, 2*len(l.fdIndex), 64))
		copy(grown, l.fdIndex)
		l.fdIndex = grown
	}
	*r = Registration{l: l, t: t, fd: int32(fd), want: in, flags: registered}
	if _, ok := t.(Filterer); ok {
		r.flags |= filters
	}
	if err := l.apply(r); err != nil {
		r.flags = 0
		return err
	}
	l.fdIndex[fd] = r
	l.registered++
	l.stats.targets.Store(int64(l.registered))
	return nil
}

// lookup returns the registration of fd, or nil.
func (l *Loop) lookup(fd int) *Registration {
	if fd < 0 || fd >= len(l.fdIndex) {
		return nil
	}
	return l.fdIndex[fd]
}

// Handle returns t's registration, or nil if t is not registered here. Loop
// goroutine only.
func (l *Loop) Handle(t Target) *Registration {
	if r := l.lookup(t.Fd()); r != nil && r.t == t {
		return r
	}
	return nil
}

// SetInterest replaces the interest of a registered target; see
// Registration.SetInterest. Loop goroutine only.
func (l *Loop) SetInterest(t Target, in poller.Interest) error {
	if r := l.Handle(t); r != nil {
		return r.SetInterest(in)
	}
	return ErrNotRegistered
}

// Interest returns the interest t asked for, or 0 if t is not registered. Loop
// goroutine only.
func (l *Loop) Interest(t Target) poller.Interest {
	if r := l.Handle(t); r != nil {
		return r.want
	}
	return 0
}

// DeferWrite arms exactly one write notification for t (pike's defer_write); see
// Registration.DeferWrite. Loop goroutine only.
func (l *Loop) DeferWrite(t Target) error {
	if r := l.Handle(t); r != nil {
		return r.DeferWrite()
	}
	return ErrNotRegistered
}

// Unregister stops watching t; see Registration.Unregister. Loop goroutine only.
func (l *Loop) Unregister(t Target) error {
	if r := l.Handle(t); r != nil {
		return r.Unregister()
	}
	return ErrNotRegistered
}

// Release unregisters t and closes its fd; see Registration.Release. Loop
// goroutine only.
func (l *Loop) Release(t Target) error {
	if r := l.Handle(t); r != nil {
		return r.Release()
	}
	return ErrNotRegistered
}

// Loop returns the loop r is registered on, nil before Attach. Loop goroutine
// only.
func (r *Registration) Loop() *Loop { return r.l }

// Registered reports whether r still holds its fd on the loop. Loop goroutine only.
func (r *Registration) Registered() bool { return r.flags&registered != 0 }

// Interest returns the interest last asked for. Loop goroutine only.
func (r *Registration) Interest() poller.Interest { return r.want }

// InCallback reports whether one of the target's callbacks is running (its
// HandleEvent, its OnRoundEnd, or a function given to Call): interest set
// meanwhile reaches the poller when that callback returns. Loop goroutine only.
func (r *Registration) InCallback() bool { return r.l != nil && r.l.current == r }

// SetInterest replaces the interest. An interest of 0 takes the fd out of the
// poller entirely (so not even a hang-up is reported) until it is set again.
// Inside the target's own callback the poller is updated once, when the callback
// returns (a poller error then gives the target up, as a panic does); anywhere
// else at once, returning the poller's error. Loop goroutine only.
func (r *Registration) SetInterest(in poller.Interest) error {
	if r.flags&registered == 0 {
		return ErrNotRegistered
	}
	r.want = in
	return r.l.apply(r)
}

// DeferWrite arms exactly one write notification: the next time the fd is
// writable (or fails), the target gets one event with Writable (or Hangup or
// Error) set, and write interest is dropped again unless the target asked for it.
// It is pike's defer_write. Arming it again inside the callback that delivers it
// asks for one more. Loop goroutine only.
func (r *Registration) DeferWrite() error {
	if r.flags&registered == 0 {
		return ErrNotRegistered
	}
	r.flags = r.flags&^writeOnceDue | writeOnce
	return r.l.apply(r)
}

// WriteDeferred reports whether a DeferWrite notification is armed, including
// inside the callback of the event that delivers it. Loop goroutine only.
func (r *Registration) WriteDeferred() bool { return r.flags&writeOnce != 0 }

// AtRoundEnd asks for one call of the target's OnRoundEnd (it must be a
// RoundEnder) at the end of the current round, after the tasks; or of the next
// round when asked from a round-end call or outside a round. Asking again before
// it ran does nothing. A target released meanwhile is not called. Loop goroutine
// only.
func (r *Registration) AtRoundEnd() {
	if r.flags&(registered|roundEndDue) != registered {
		return
	}
	r.flags |= roundEndDue
	r.l.roundEnd = append(r.l.roundEnd, r)
}

// Unregister stops watching the fd; the fd stays open and is the caller's. No event
// for the target is delivered after Unregister returns, even one already in the
// current batch. Loop goroutine only.
func (r *Registration) Unregister() error {
	if r.flags&registered == 0 {
		return ErrNotRegistered
	}
	return r.l.drop(r)
}

// Release unregisters the target and closes its fd: at once, or, when called
// while the round's events are being dispatched, as soon as the whole batch has
// been. Deferring the close keeps the fd number from being reused while events for
// it may still be in the batch. Loop goroutine only.
func (r *Registration) Release() error {
	if r.flags&registered == 0 {
		return ErrNotRegistered
	}
	l := r.l
	err := l.drop(r)
	if l.dispatching {
		l.released = append(l.released, int(r.fd))
	} else {
		sys.Close(int(r.fd))
	}
	return err
}

// apply is the one place the poller learns a registration's interest: at once,
// with at most one syscall and none if nothing changed, or, while the target's
// own callback runs, when it returns (settle calls apply again then).
func (l *Loop) apply(r *Registration) error {
	if l.current == r {
		return nil
	}
	if owner.Checks {
		l.CheckOwner("loop: interest change")
	}
	eff := r.want
	if r.flags&writeOnce != 0 {
		eff |= poller.Writable
	}
	if eff == r.kernel {
		return nil
	}
	var err error
	switch {
	case r.kernel == 0:
		err = l.p.Add(int(r.fd), eff)
	case eff == 0:
		err = l.p.Delete(int(r.fd))
	default:
		err = l.p.Modify(int(r.fd), eff)
	}
	if err != nil {
		return err
	}
	r.kernel = eff
	return nil
}

// drop takes r out of the poller and out of the table.
func (l *Loop) drop(r *Registration) error {
	var err error
	if r.kernel != 0 {
		err = l.p.Delete(int(r.fd))
		if errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOENT) {
			err = nil // the fd was closed behind our back; the kernel already forgot it
		}
		r.kernel = 0
	}
	r.flags &^= registered | writeOnce | writeOnceDue
	l.fdIndex[r.fd] = nil
	l.registered--
	l.stats.targets.Store(int64(l.registered))
	return err
}

// closeReleased closes the fds released during event dispatch.
func (l *Loop) closeReleased() {
	for i, fd := range l.released {
		sys.Close(fd)
		l.released[i] = 0
	}
	l.released = l.released[:0]
}

// Targets yields the registered targets, in fd order, each once. The body may
// register and release targets, its own and others: a target released before the
// walk reaches it is not yielded, and one registered during the walk may or may
// not be. Loop goroutine only.
func (l *Loop) Targets() iter.Seq[Target] {
	return func(yield func(Target) bool) {
		for fd := 0; fd < len(l.fdIndex); fd++ {
			if r := l.fdIndex[fd]; r != nil && !yield(r.t) {
				return
			}
		}
	}
}
