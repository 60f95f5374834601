package poller

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// Poller watches fds with epoll. See the package doc for the contract.
type Poller struct {
	epfd   int
	wakeFd int // eventfd
	wake   wakeState
	raw    []unix.EpollEvent // kernel-side buffer, grown to len(events) of Wait
	closed bool
}

// New creates an epoll instance and its eventfd wakeup, both close-on-exec.
func New() (*Poller, error) {
	epfd, err := sys.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, wrap("epoll_create1", err)
	}
	wfd, err := sys.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		sys.Close(epfd)
		return nil, wrap("eventfd", err)
	}
	p := &Poller{epfd: epfd, wakeFd: wfd}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}
	if err := sys.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		sys.Close(wfd)
		sys.Close(epfd)
		return nil, wrap("epoll_ctl", err)
	}
	return p, nil
}

func epollBits(in Interest) uint32 {
	var e uint32
	if in&Readable != 0 {
		e |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if in&Writable != 0 {
		e |= unix.EPOLLOUT
	}
	if in&Priority != 0 {
		e |= unix.EPOLLPRI
	}
	return e
}

func readyBits(e uint32) Ready {
	var r Ready
	if e&unix.EPOLLIN != 0 {
		r |= Readable
	}
	if e&unix.EPOLLOUT != 0 {
		r |= Writable
	}
	if e&unix.EPOLLPRI != 0 {
		r |= Priority
	}
	if e&unix.EPOLLHUP != 0 {
		r |= Hangup
	}
	if e&unix.EPOLLRDHUP != 0 {
		r |= ReadHangup
	}
	if e&unix.EPOLLERR != 0 {
		r |= Error
	}
	return r
}

func (p *Poller) ctl(op, fd int, in Interest) error {
	if err := checkInterest(in); err != nil {
		return err
	}
	ev := unix.EpollEvent{Events: epollBits(in), Fd: int32(fd)}
	if err := sys.EpollCtl(p.epfd, op, fd, &ev); err != nil {
		return wrap("epoll_ctl", err)
	}
	return nil
}

// Add starts watching fd for in.
func (p *Poller) Add(fd int, in Interest) error { return p.ctl(unix.EPOLL_CTL_ADD, fd, in) }

// Modify replaces the interest of a watched fd.
func (p *Poller) Modify(fd int, in Interest) error { return p.ctl(unix.EPOLL_CTL_MOD, fd, in) }

// Delete stops watching fd.
func (p *Poller) Delete(fd int) error {
	if err := sys.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return wrap("epoll_ctl", err)
	}
	return nil
}

// Wait blocks for up to timeout and fills events; see the package doc.
func (p *Poller) Wait(events []Event, timeout time.Duration) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if len(events) == 0 {
		return 0, nil
	}
	if cap(p.raw) < len(events) {
		p.raw = make([]unix.EpollEvent, len(events))
	}
	raw := p.raw[:len(events)]
	n, err := sys.EpollWait(p.epfd, raw, timeoutMillis(timeout))
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, wrap("epoll_wait", err)
	}
	out := 0
	for i := 0; i < n; i++ {
		fd := int(raw[i].Fd)
		if fd == p.wakeFd {
			p.drainWake()
			continue
		}
		events[out] = Event{Fd: fd, Ready: readyBits(raw[i].Events)}
		out++
	}
	return out, nil
}

// drainWake resets the eventfd counter and re-opens the gate for the next Wake.
func (p *Poller) drainWake() {
	var buf [8]byte
	sys.Read(p.wakeFd, buf[:])
	p.wake.drained()
}

// Wake makes the current or next Wait return. Safe from any goroutine.
func (p *Poller) Wake() error {
	if !p.wake.shouldWrite() {
		return nil
	}
	var one [8]byte // eventfd adds this host-order counter value
	putUint64(one[:], 1)
	for {
		_, err := sys.WriteFile(p.wakeFd, one[:])
		switch err {
		case nil, unix.EAGAIN: // EAGAIN: the counter is saturated, the loop is awake anyway
			return nil
		case unix.EINTR:
			continue
		default:
			p.wake.drained()
			return wrap("eventfd write", err)
		}
	}
}

// Close releases the epoll instance and the eventfd.
func (p *Poller) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	err1 := sys.Close(p.wakeFd)
	err2 := sys.Close(p.epfd)
	if err1 != nil {
		return wrap("close", err1)
	}
	if err2 != nil {
		return wrap("close", err2)
	}
	return nil
}
