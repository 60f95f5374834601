// Package poller is a readiness API over the kernel's event mechanism: epoll on
// Linux, kqueue on macOS and the BSDs. One Poller watches many fds; one goroutine
// (the loop) calls Wait; any goroutine may call Wake.
//
// # Contract every backend meets
//
// Methods:
//   - New creates the kernel object and a wakeup source; every fd it creates is
//     close-on-exec.
//   - Add starts watching fd for the given Interest; Modify replaces the interest;
//     Delete stops watching. Interest may hold only Readable, Writable and Priority;
//     anything else is rejected with ErrInterest. Add, Modify, Delete and Wait are
//     called from one goroutine at a time (the loop goroutine).
//   - Wait fills events with ready fds and returns how many. It blocks for at most
//     timeout (timeout < 0 blocks until an event or a Wake; 0 polls without
//     blocking). Timeouts are rounded up to the backend's granularity (a
//     millisecond for epoll), never down, so a caller waiting for a deadline never
//     wakes before it. Timeouts longer than the backend can express are capped; the
//     caller simply waits again.
//   - Wake is safe from any goroutine. It makes the Wait in progress, or the next
//     Wait if none is in progress, return promptly. Wakes that arrive before that
//     Wait has drained the wakeup coalesce into one write to the kernel, so a burst
//     of Wakes costs one syscall (WakeWrites counts them). The wakeup is drained
//     inside Wait and is never returned as an Event. A caller that hands work to
//     the loop must publish the work before calling Wake, and the loop must look for
//     work after Wait returns: that order is what makes a coalesced Wake safe.
//   - Close releases the kernel objects. It must not race with Wait.
//
// Guarantees:
//   - Level-triggered: an fd that stays ready is reported by every Wait.
//   - Ready carries Readable, Writable and Priority as asked for, plus Hangup,
//     ReadHangup and Error, which the kernel may report whatever the interest.
//   - A signal that interrupts Wait (EINTR) makes it return (0, nil); the caller
//     recomputes its timeout and waits again.
//   - After Delete returns, no later Wait reports that fd. Events already returned
//     by an earlier Wait are the caller's to discard.
//   - Events may be spurious: a Readable fd may have nothing to read by the time the
//     caller reads it. Callers treat EAGAIN as "not ready after all".
//
// Implementation notes (true today, not promised):
//   - epoll registers Readable as EPOLLIN|EPOLLRDHUP so a peer's half-close shows
//     as ReadHangup; the fd number is the event's data, never a Go pointer.
//   - kqueue has no portable out-of-band filter: Priority is watched through
//     EVFILT_READ and reported as Readable. Each fd has a read and a write filter,
//     registered together and enabled or disabled by Modify; the two kevents of one
//     fd that arrive side by side are merged into one Event.
//   - The wakeup is an eventfd on Linux, EVFILT_USER on darwin, FreeBSD and
//     DragonFly, and a non-blocking pipe on NetBSD and OpenBSD.
package poller

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"go.uber.org/atomic"
)

// Interest is the set of readiness kinds a caller wants to hear about for one fd.
// It is built from Readable, Writable and Priority.
type Interest uint8

// Ready is the set of readiness kinds the kernel reported for one fd: the Interest
// bits plus Hangup, ReadHangup and Error.
type Ready uint8

// Bits shared by Interest and Ready. They are untyped so they fit either type.
const (
	// Readable: data (or EOF, or a pending connection) can be read.
	Readable = 1 << iota
	// Writable: the fd accepts more bytes; a connect in progress has finished.
	Writable
	// Priority: out-of-band or urgent data (the seed APIs' "E" filter).
	Priority
	// Hangup: both directions are shut (EPOLLHUP, or EV_EOF on the write filter).
	Hangup
	// ReadHangup: the peer shut its writing side (EPOLLRDHUP, or EV_EOF on read).
	ReadHangup
	// Error: the fd has a pending error (EPOLLERR, EV_ERROR).
	Error
)

// interestMask holds every bit Add and Modify accept.
const interestMask = Readable | Writable | Priority

// Event is one ready fd returned by Wait.
type Event struct {
	Fd    int
	Ready Ready
}

var (
	// ErrInterest reports an Interest with bits other than Readable, Writable and
	// Priority.
	ErrInterest = errors.New("poller: interest may hold only Readable, Writable and Priority")
	// ErrClosed reports a call on a closed Poller.
	ErrClosed = errors.New("poller: closed")
)

func checkInterest(in Interest) error {
	if in&^interestMask != 0 {
		return ErrInterest
	}
	return nil
}

// wakeState is the part of Wake that every backend shares: a flag that is set by
// the first Wake of a burst and cleared when Wait drains the wakeup, and a lock
// that keeps the one Wake that does reach the kernel from racing with Close (which
// could otherwise write into a closed, reused fd).
type wakeState struct {
	pending atomic.Bool
	writes  atomic.Uint64
	mu      sync.Mutex // held while writing a wakeup, and by Close
	closed  bool       // guarded by mu
}

// write runs the backend's wakeup write unless the poller is closed.
func (w *wakeState) write(f func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return f()
}

// close marks the poller closed for Wake and runs the backend's close under the
// same lock.
func (w *wakeState) close(f func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	return f()
}

// shouldWrite reports whether this Wake is the first since the last drain and so
// must reach the kernel.
func (w *wakeState) shouldWrite() bool {
	if w.pending.Load() || !w.pending.CompareAndSwap(false, true) {
		return false
	}
	w.writes.Inc()
	return true
}

// drained is called by Wait after it has consumed the kernel's wakeup.
func (w *wakeState) drained() { w.pending.Store(false) }

// WakeWrites returns how many Wakes reached the kernel (eventfd, EVFILT_USER or
// pipe writes). Safe from any goroutine.
func (p *Poller) WakeWrites() uint64 { return p.wake.writes.Load() }

// timeoutMillis converts a Wait timeout to the milliseconds epoll_wait takes:
// negative stays -1 (block), positive rounds up so a deadline is never missed, and
// anything longer than an int32 of milliseconds (about 24 days) is capped.
func timeoutMillis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	if ms > math.MaxInt32 {
		ms = math.MaxInt32
	}
	return int(ms)
}

// String names the bits, as in "Readable|Writable". Safe from any goroutine.
func (in Interest) String() string { return bitsString(uint8(in)) }

// String names the bits, as in "Readable|ReadHangup". Safe from any goroutine.
func (r Ready) String() string { return bitsString(uint8(r)) }

var bitNames = [...]string{"Readable", "Writable", "Priority", "Hangup", "ReadHangup", "Error"}

func bitsString(b uint8) string {
	if b == 0 {
		return "0"
	}
	var parts []string
	for i, name := range bitNames {
		if b&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	if rest := b &^ (1<<len(bitNames) - 1); rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", rest))
	}
	return strings.Join(parts, "|")
}
