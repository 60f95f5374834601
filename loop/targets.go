package loop

import (
	"errors"
	"iter"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/poller"
)

// lookup returns the slot index of fd, or -1.
func (l *Loop) lookup(fd int) int {
	if fd < 0 || fd >= len(l.fdIndex) {
		return -1
	}
	return int(l.fdIndex[fd]) - 1
}

// slotOf returns the slot index of t, or -1 if t is not the target registered for
// its fd.
func (l *Loop) slotOf(t Target) int {
	i := l.lookup(t.Fd())
	if i < 0 || l.slots[i].t != t {
		return -1
	}
	return i
}

// Register starts watching t.Fd() for in and delivers its events to t. A target
// implementing Filterer has Filter consulted after each of its events. Loop
// goroutine only (or before the loop runs).
func (l *Loop) Register(t Target, in poller.Interest) error {
	fd := t.Fd()
	if fd < 0 {
		return ErrBadFd
	}
	if l.lookup(fd) >= 0 {
		return ErrRegistered
	}
	if fd >= len(l.fdIndex) {
		grown := make([]int32, max(fd+1, 2*len(l.fdIndex), 64))
		copy(grown, l.fdIndex)
		l.fdIndex = grown
	}
	_, filters := t.(Filterer)
	if len(l.slots) == cap(l.slots) {
		// Double, rather than let append grow a large table by 1.25×: that
		// leaves some four discarded copies of the table per live slot for the
		// GC, which is most of what a new idle conn costs in memory.
		grown := make([]slot, len(l.slots), max(64, 2*cap(l.slots)))
		copy(grown, l.slots)
		l.slots = grown
	}
	l.slots = append(l.slots, slot{t: t, fd: int32(fd), filters: filters})
	l.fdIndex[fd] = int32(len(l.slots))
	l.stats.targets.Store(int64(len(l.slots)))
	i := len(l.slots) - 1
	l.slots[i].want = in
	if err := l.apply(i); err != nil {
		l.drop(i)
		return err
	}
	return nil
}

// SetInterest replaces the interest of a registered target. An interest of 0 takes
// the fd out of the poller entirely (so not even a hang-up is reported) until the
// interest is set again. Inside the target's own handler the poller is updated once,
// after the handler returns. Loop goroutine only.
func (l *Loop) SetInterest(t Target, in poller.Interest) error {
	i := l.slotOf(t)
	if i < 0 {
		return ErrNotRegistered
	}
	l.slots[i].want = in
	return l.apply(i)
}

// Interest returns the interest t asked for with Register or SetInterest, or 0 if t
// is not registered. Loop goroutine only.
func (l *Loop) Interest(t Target) poller.Interest {
	if i := l.slotOf(t); i >= 0 {
		return l.slots[i].want
	}
	return 0
}

// DeferWrite asks for exactly one write notification: the next time t's fd is
// writable, t gets one event with Writable set, and write interest is dropped again
// unless t asked for it. This is the pike poller's defer_write. Loop goroutine only.
func (l *Loop) DeferWrite(t Target) error {
	i := l.slotOf(t)
	if i < 0 {
		return ErrNotRegistered
	}
	l.slots[i].oneshot = true
	return l.apply(i)
}

// apply brings the poller in line with slot i's wanted interest, with at most one
// syscall and none if nothing changed. While slot i's own handler runs it only
// marks the slot; dispatch applies it once the handler returns.
func (l *Loop) apply(i int) error {
	s := &l.slots[i]
	if int(s.fd) == l.current {
		s.dirty = true
		return nil
	}
	s.dirty = false
	eff := s.want
	if s.oneshot {
		eff |= poller.Writable
	}
	if eff == s.kernel {
		return nil
	}
	var err error
	switch {
	case s.kernel == 0:
		err = l.p.Add(int(s.fd), eff)
	case eff == 0:
		err = l.p.Delete(int(s.fd))
	default:
		err = l.p.Modify(int(s.fd), eff)
	}
	if err != nil {
		return err
	}
	s.kernel = eff
	return nil
}

// Unregister stops watching t; the fd stays open and is the caller's. No event for
// t is delivered after Unregister returns, even one already in the current batch.
// Loop goroutine only.
func (l *Loop) Unregister(t Target) error {
	i := l.slotOf(t)
	if i < 0 {
		return ErrNotRegistered
	}
	return l.drop(i)
}

// Release unregisters t and closes its fd: at once, or, when called while the
// round's events are being dispatched, as soon as the whole batch has been. Deferring
// the close keeps the fd number from being reused while events for it may still be
// in the batch. Loop goroutine only.
func (l *Loop) Release(t Target) error {
	i := l.slotOf(t)
	if i < 0 {
		return ErrNotRegistered
	}
	fd := int(l.slots[i].fd)
	err := l.drop(i)
	if l.dispatching {
		l.released = append(l.released, fd)
	} else {
		sys.Close(fd)
	}
	return err
}

// drop removes slot i: out of the poller, out of the table. The last slot moves
// into its place so the slots stay dense.
func (l *Loop) drop(i int) error {
	s := l.slots[i]
	var err error
	if s.kernel != 0 {
		err = l.p.Delete(int(s.fd))
		if errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOENT) {
			err = nil // the fd was closed behind our back; the kernel already forgot it
		}
	}
	last := len(l.slots) - 1
	if i != last {
		l.slots[i] = l.slots[last]
		l.fdIndex[l.slots[i].fd] = int32(i + 1)
	}
	l.slots[last] = slot{}
	l.slots = l.slots[:last]
	l.fdIndex[s.fd] = 0
	l.stats.targets.Store(int64(len(l.slots)))
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

// Targets yields the registered targets, each once, provided the loop body
// registers new targets or releases only the target it was given: those are safe.
// Releasing other targets during the walk can move an already yielded target
// into the part not yet walked; collect first if the body does that. Loop
// goroutine only.
func (l *Loop) Targets() iter.Seq[Target] {
	return func(yield func(Target) bool) {
		// Walk backwards: drop moves the last slot (already walked) into the
		// freed index, and Register appends after it, so neither is seen again.
		for i := len(l.slots) - 1; i >= 0; i-- {
			if i < len(l.slots) && !yield(l.slots[i].t) {
				return
			}
		}
	}
}
