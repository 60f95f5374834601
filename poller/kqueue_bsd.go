//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poller

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// Poller watches fds with kqueue. See the package doc for the contract.
type Poller struct {
	kq      int
	wake    wakeState
	waker   kqueueWaker // EVFILT_USER or a pipe, per platform
	raw     []unix.Kevent_t
	changes [2]unix.Kevent_t // scratch for Add/Modify/Delete
	park    parker
	closed  bool
}

// fd is the kqueue, for Park.
func (p *Poller) fd() int { return p.kq }

// New creates a kqueue and its wakeup source, both close-on-exec. Safe from any
// goroutine.
func New() (*Poller, error) {
	kq, err := sys.Kqueue()
	if err != nil {
		return nil, wrap("kqueue", err)
	}
	sys.CloseOnExec(kq)
	p := &Poller{kq: kq}
	if err := p.waker.init(kq); err != nil {
		sys.Close(kq)
		return nil, err
	}
	return p, nil
}

// filterFlags returns EV_ENABLE when on, EV_DISABLE otherwise.
func filterFlags(on bool) int {
	if on {
		return unix.EV_ENABLE
	}
	return unix.EV_DISABLE
}

// set registers both filters of fd, enabling the ones in asks for.
func (p *Poller) set(fd int, in Interest) error {
	if p.closed {
		return ErrClosed
	}
	if err := checkInterest(in); err != nil {
		return err
	}
	unix.SetKevent(&p.changes[0], fd, unix.EVFILT_READ, unix.EV_ADD|filterFlags(in&(Readable|Priority) != 0))
	unix.SetKevent(&p.changes[1], fd, unix.EVFILT_WRITE, unix.EV_ADD|filterFlags(in&Writable != 0))
	if _, err := sys.Kevent(p.kq, p.changes[:], nil, nil); err != nil {
		return wrap("kevent", err)
	}
	return nil
}

// Add starts watching fd for in. Loop goroutine only.
func (p *Poller) Add(fd int, in Interest) error { return p.set(fd, in) }

// Modify replaces the interest of a watched fd. Loop goroutine only.
func (p *Poller) Modify(fd int, in Interest) error { return p.set(fd, in) }

// Delete stops watching fd. Loop goroutine only.
func (p *Poller) Delete(fd int) error {
	if p.closed {
		return ErrClosed
	}
	unix.SetKevent(&p.changes[0], fd, unix.EVFILT_READ, unix.EV_DELETE)
	unix.SetKevent(&p.changes[1], fd, unix.EVFILT_WRITE, unix.EV_DELETE)
	if _, err := sys.Kevent(p.kq, p.changes[:], nil, nil); err != nil {
		return wrap("kevent", err)
	}
	return nil
}

// Wait blocks for up to timeout and fills events; see the package doc. Loop
// goroutine only.
func (p *Poller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if len(events) == 0 {
		return 0, nil
	}
	if cap(p.raw) < len(events) {
		p.raw = make([]unix.Kevent_t, len(events))
	}
	raw := p.raw[:len(events)]
	var ts *unix.Timespec
	var tsv unix.Timespec
	if timeout >= 0 {
		tsv = unix.NsecToTimespec(int64(capTimeout(timeout)))
		ts = &tsv
	}
	n, err := sys.Kevent(p.kq, nil, raw, ts)
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, wrap("kevent", err)
	}
	out := 0
	for i := 0; i < n; i++ {
		kev := &raw[i]
		if p.waker.owns(kev) {
			p.waker.drain()
			p.wake.drained()
			p.park.woke = true
			continue
		}
		fd := int(kev.Ident)
		r := keventReady(kev)
		if out > 0 && events[out-1].Fd == fd {
			events[out-1].Ready |= r
			continue
		}
		events[out] = Event{Fd: fd, Ready: r}
		out++
	}
	return out, nil
}

func keventReady(kev *unix.Kevent_t) Ready {
	var r Ready
	if kev.Flags&unix.EV_ERROR != 0 {
		return Error
	}
	switch kev.Filter {
	case unix.EVFILT_READ:
		r |= Readable
		if kev.Flags&unix.EV_EOF != 0 {
			r |= ReadHangup
			if kev.Fflags != 0 { // a socket error rides on EV_EOF in fflags
				r |= Error
			}
		}
	case unix.EVFILT_WRITE:
		r |= Writable
		if kev.Flags&unix.EV_EOF != 0 {
			r |= Hangup
			if kev.Fflags != 0 {
				r |= Error
			}
		}
	}
	return r
}

// Wake makes the current or next Wait return. Safe from any goroutine.
func (p *Poller) Wake() error {
	if !p.wake.shouldWrite() {
		return nil
	}
	err := p.wake.write(func() error { return p.waker.trigger(p.kq) })
	if err != nil {
		p.wake.drained() // let the next Wake try again
	}
	return err
}

// Close releases the kqueue and the wakeup source. Any goroutine, but not
// while Wait runs; a Wake racing with it finds the poller closed.
func (p *Poller) Close() error {
	return p.wake.close(func() error {
		p.closed = true
		p.waker.close()
		errPark := p.stopParking()
		if err := sys.Close(p.kq); err != nil {
			return wrap("close", err)
		}
		if errPark != nil {
			return wrap("close", errPark)
		}
		return nil
	})
}
