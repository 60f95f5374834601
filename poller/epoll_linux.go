package poller

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// Poller watches fds with epoll. See the package doc for the contract.
type Poller struct {
	epfd    int
	wakeFd  int // eventfd
	wake    wakeState
	raw     []unix.EpollEvent // kernel-side buffer, grown to len(events) of Wait
	ctlEv   unix.EpollEvent   // scratch for epoll_ctl, kept here so it does not escape
	drainEv [8]byte           // scratch for the eventfd read
	park    parker
	closed  bool // loop-goroutine view; Wake uses wake.closed
}

// fd is the epoll instance, for Park.
func (p *Poller) fd() int { return p.epfd }

// wakeOne is the eventfd increment Wake writes: the value 1 in host byte order.
var wakeOne = func() (b [8]byte) { putUint64(b[:], 1); return }()

// New creates an epoll instance and its eventfd wakeup, both close-on-exec. Safe from any
// goroutine.
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
	if p.closed {
		return ErrClosed
	}
	if err := checkInterest(in); err != nil {
		return err
	}
	p.ctlEv = unix.EpollEvent{Events: epollBits(in), Fd: int32(fd)}
	if err := sys.EpollCtl(p.epfd, op, fd, &p.ctlEv); err != nil {
		return wrap("epoll_ctl", err)
	}
	return nil
}

// Add starts watching fd for in. Loop goroutine only.
func (p *Poller) Add(fd int, in Interest) error { return p.ctl(unix.EPOLL_CTL_ADD, fd, in) }

// Modify replaces the interest of a watched fd. Loop goroutine only.
func (p *Poller) Modify(fd int, in Interest) error { return p.ctl(unix.EPOLL_CTL_MOD, fd, in) }

// Delete stops watching fd. Loop goroutine only.
func (p *Poller) Delete(fd int) error {
	if p.closed {
		return ErrClosed
	}
	if err := sys.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return wrap("epoll_ctl", err)
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
	sys.Read(p.wakeFd, p.drainEv[:])
	p.wake.drained()
	p.park.woke = true
}

// Wake makes the current or next Wait return. Safe from any goroutine.
func (p *Poller) Wake() error {
	if !p.wake.shouldWrite() {
		return nil
	}
	err := p.wake.write(p.writeWake)
	if err != nil {
		p.wake.drained() // let the next Wake try again
	}
	return err
}

func (p *Poller) writeWake() error {
	_, err := sys.Retry(func() (int, error) { return sys.WriteFile(p.wakeFd, wakeOne[:]) })
	switch err {
	case nil, unix.EAGAIN: // EAGAIN: the counter is saturated, the loop is awake anyway
		return nil
	default:
		return wrap("eventfd write", err)
	}
}

// Close releases the epoll instance and the eventfd. Any goroutine, but not
// while Wait runs; a Wake racing with it finds the poller closed.
func (p *Poller) Close() error {
	return p.wake.close(func() error {
		p.closed = true
		if err := errors.Join(p.stopParking(), sys.Close(p.wakeFd), sys.Close(p.epfd)); err != nil {
			return wrap("close", err)
		}
		return nil
	})
}
