//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package poller

import (
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// parker lets Park wait in the Go runtime's own poller. The kernel object of a
// Poller (an epoll or kqueue fd) is itself pollable: it reads as ready while
// events are pending. A duplicate of it, handed to the os package, is registered
// with the runtime's poller, so a goroutine can park on it like on a socket.
// Loop goroutine only.
type parker struct {
	file *os.File // owns the duplicate fd
	conn syscall.RawConn
	// ready is the callback RawConn.Read runs, made once (a method value would
	// allocate on every Park). It polls without blocking and reports whether the
	// wait is over: events came, the wakeup was drained, or Wait failed.
	ready    func(fd uintptr) bool
	events   []Event
	n        int
	err      error
	woke     bool // the Wait in ready drained a Wake
	deadline bool // a read deadline is set on file
}

// Park is Wait for a goroutine that is not locked to its thread: when nothing is
// ready it parks the calling goroutine in the Go runtime's poller instead of
// blocking its thread in the kernel. The thread and its P are free meanwhile, so
// no P sits in a blocking syscall for the runtime to take back, and the goroutine
// is woken, by whichever thread polls first, when an fd is ready, on a Wake, or
// when timeout passes. The contract is Wait's: it returns the ready events, (0,
// nil) after a Wake or the timeout, and never before the timeout unless woken.
// It costs one duplicate fd, made on the first Park; while that cannot be made
// (the process is out of fds), Park blocks in Wait instead. Loop goroutine only; a
// goroutine locked to its thread should use Wait, since parking it hands its P
// to another thread and back.
func (p *Poller) Park(events []Event, timeout time.Duration) (int, error) {
	if timeout == 0 || len(events) == 0 || p.closed {
		return p.Wait(events, 0) // never blocks; and Wait reports ErrClosed
	}
	pk := &p.park
	if pk.file == nil && p.startParking() != nil {
		// Out of fds, most likely: wait the blocking way this time, and try to
		// park again next time, so the loop never fails for want of its dup.
		return p.Wait(events, timeout)
	}
	switch {
	case timeout > 0:
		pk.file.SetReadDeadline(time.Now().Add(capTimeout(timeout)))
		pk.deadline = true
	case pk.deadline:
		pk.file.SetReadDeadline(time.Time{})
		pk.deadline = false
	}
	pk.events, pk.n, pk.err, pk.woke = events, 0, nil, false
	err := pk.conn.Read(pk.ready)
	pk.events = nil
	switch {
	case err == nil:
		return pk.n, pk.err
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	default:
		return 0, wrap("park", err)
	}
}

// startParking duplicates the poller's fd for the runtime's poller. The
// duplicate shares the original's open file, so making it non-blocking (which
// the os package needs to poll it) changes the original too; Wait passes its own
// timeout and is not affected by the flag.
func (p *Poller) startParking() error {
	fd, err := sys.Dup(p.fd())
	if err != nil {
		return wrap("dup", err)
	}
	sys.CloseOnExec(fd)
	if err := sys.SetNonblock(fd, true); err != nil {
		sys.Close(fd)
		return wrap("fcntl", err)
	}
	file := os.NewFile(uintptr(fd), "poller")
	conn, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return wrap("park", err)
	}
	pk := &p.park
	pk.file, pk.conn = file, conn
	pk.ready = func(uintptr) bool {
		pk.n, pk.err = p.Wait(pk.events, 0)
		return pk.n > 0 || pk.woke || pk.err != nil
	}
	return nil
}

// stopParking closes the duplicate fd, if Park made one.
func (p *Poller) stopParking() error {
	if p.park.file == nil {
		return nil
	}
	err := p.park.file.Close()
	p.park.file = nil
	return err
}

// capTimeout bounds a timeout at what the kernel's wait can express (an int32 of
// milliseconds, about 24 days): a longer wait simply ends early and the caller
// waits again, as the contract allows.
func capTimeout(d time.Duration) time.Duration {
	const max = time.Duration(1<<31-1) * time.Millisecond
	return min(d, max)
}
