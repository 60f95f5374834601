//go:build darwin || dragonfly || freebsd

package poller

import (
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// wakeIdent is the EVFILT_USER identifier of the wakeup; it lives in its own
// namespace and cannot collide with an fd.
const wakeIdent = 0

// kqueueWaker wakes a kqueue with EVFILT_USER: no extra fd at all.
type kqueueWaker struct{}

func (kqueueWaker) init(kq int) error {
	var kev [1]unix.Kevent_t
	unix.SetKevent(&kev[0], wakeIdent, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	if _, err := sys.Kevent(kq, kev[:], nil, nil); err != nil {
		return wrap("kevent", err)
	}
	return nil
}

func (kqueueWaker) owns(kev *unix.Kevent_t) bool {
	return kev.Filter == unix.EVFILT_USER && kev.Ident == wakeIdent
}

// drain has nothing to do: EV_CLEAR resets the event when Wait retrieves it.
func (kqueueWaker) drain() {}

func (kqueueWaker) trigger(kq int) error {
	var kev [1]unix.Kevent_t
	unix.SetKevent(&kev[0], wakeIdent, unix.EVFILT_USER, 0)
	kev[0].Fflags = unix.NOTE_TRIGGER
	if _, err := sys.Retry(func() (int, error) { return sys.Kevent(kq, kev[:], nil, nil) }); err != nil {
		return wrap("kevent", err)
	}
	return nil
}

func (kqueueWaker) close() {}
