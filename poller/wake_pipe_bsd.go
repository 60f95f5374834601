//go:build netbsd || openbsd

package poller

import (
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// kqueueWaker wakes a kqueue through a non-blocking pipe, for systems without
// EVFILT_USER.
type kqueueWaker struct {
	r, w     int
	drainBuf [64]byte
}

// wakeByte is what a wakeup writes into the pipe.
var wakeByte = [1]byte{1}

func (k *kqueueWaker) init(kq int) error {
	var p [2]int
	if err := sys.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return wrap("pipe", err)
	}
	k.r, k.w = p[0], p[1]
	var kev [1]unix.Kevent_t
	unix.SetKevent(&kev[0], k.r, unix.EVFILT_READ, unix.EV_ADD)
	if _, err := sys.Kevent(kq, kev[:], nil, nil); err != nil {
		k.close()
		return wrap("kevent", err)
	}
	return nil
}

func (k *kqueueWaker) owns(kev *unix.Kevent_t) bool {
	return kev.Filter == unix.EVFILT_READ && int(kev.Ident) == k.r
}

func (k *kqueueWaker) drain() {
	for {
		if n, err := sys.Read(k.r, k.drainBuf[:]); n <= 0 || err != nil {
			return
		}
	}
}

func (k *kqueueWaker) trigger(int) error {
	_, err := sys.Retry(func() (int, error) { return sys.WriteFile(k.w, wakeByte[:]) })
	switch err {
	case nil, unix.EAGAIN: // a full pipe already wakes the loop
		return nil
	default:
		return wrap("pipe write", err)
	}
}

func (k *kqueueWaker) close() {
	sys.Close(k.r)
	sys.Close(k.w)
}
