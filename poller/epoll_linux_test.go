package poller

// Linux-only tests of the epoll backend: its fds, its rounding of timeouts, and
// the syscall failures that internal/sys lets a test provoke on demand.

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

const eventually = 5 * time.Second

func newEpoll(t *testing.T) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// readablePair returns a socketpair whose end [0] holds one unread byte; both ends
// are closed when the test ends.
func readablePair(t *testing.T) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	t.Cleanup(func() {
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	if _, err := unix.Write(fds[1], []byte{'x'}); err != nil {
		t.Fatalf("write: %v", err)
	}
	return fds
}

// closeRecorder swaps sys.Close for one that records each fd and then closes it.
func closeRecorder(t *testing.T) *[]int {
	t.Helper()
	var closed []int
	realClose := sys.Close
	t.Cleanup(sys.Swap(&sys.Close, func(fd int) error {
		closed = append(closed, fd)
		return realClose(fd)
	}))
	return &closed
}

// expectNoNewFds fails if an fd opened after before is still open.
func expectNoNewFds(t *testing.T, before map[string]bool) {
	t.Helper()
	if leaked := testutil.WaitFdsBack(before, 0); len(leaked) > 0 {
		t.Fatalf("fds leaked: %s", strings.Join(leaked, ", "))
	}
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// Row 18 of RELIABILITY.md, fd hygiene, the poller's half: both fds New makes
// carry FD_CLOEXEC. The exec itself, with a running loop, is the loop package's
// TestNoFdLeaksAcrossExec.
func TestNewFdsAreCloseOnExec(t *testing.T) {
	p := newEpoll(t)
	for name, fd := range map[string]int{"epoll fd": p.epfd, "eventfd": p.wakeFd} {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatalf("F_GETFD on %s %d: %v", name, fd, err)
		}
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s %d is not close-on-exec", name, fd)
		}
	}
}

// Row 17 of RELIABILITY.md, EINTR, through the seam: an epoll_wait that fails
// with EINTR makes Wait return (0, nil), not retry inside with the timeout it was
// given, so the caller recomputes what is left. With a real signal:
// TestWaitInterruptedByRealSignalReturnsZeroNil.
func TestWaitEINTRReturnsZeroNil(t *testing.T) {
	p := newEpoll(t)
	sp := readablePair(t)
	if err := p.Add(sp[0], Readable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	calls := 0
	realWait := sys.EpollWait
	defer sys.Swap(&sys.EpollWait, func(epfd int, ev []unix.EpollEvent, msec int) (int, error) {
		calls++
		if calls == 1 {
			return -1, unix.EINTR
		}
		return realWait(epfd, ev, msec)
	})()
	events := make([]Event, 4)
	// A blocking Wait: if EINTR were retried instead, the ready fd would come back.
	if n, err := p.Wait(events, -1); n != 0 || err != nil {
		t.Fatalf("Wait interrupted by EINTR = (%d, %v), want (0, nil)", n, err)
	}
	if n, err := p.Wait(events, -1); n != 1 || err != nil || events[0].Fd != sp[0] {
		t.Fatalf("Wait after EINTR = (%d, %v) %v, want the ready fd %d", n, err, events[:max(n, 0)], sp[0])
	}
}

func TestWaitWrapsEpollWaitError(t *testing.T) {
	p := newEpoll(t)
	defer sys.Swap(&sys.EpollWait, func(int, []unix.EpollEvent, int) (int, error) {
		return -1, unix.EBADF
	})()
	n, err := p.Wait(make([]Event, 4), 0)
	if n != 0 || !errors.Is(err, unix.EBADF) || !strings.HasPrefix(err.Error(), "poller: epoll_wait: ") {
		t.Fatalf("Wait = (%d, %v), want (0, poller: epoll_wait: EBADF)", n, err)
	}
}

func TestTimeoutMillisRoundsUpAndCaps(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want int
	}{
		{0, 0},
		{1, 1},
		{100 * time.Microsecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + 1, 2},
		{20 * time.Millisecond, 20},
		{-1, -1},
		{-time.Hour, -1},
		{time.Duration(math.MaxInt32) * time.Millisecond, math.MaxInt32},
		{time.Duration(math.MaxInt32)*time.Millisecond + 1, math.MaxInt32},
		{100 * 365 * 24 * time.Hour, math.MaxInt32},
		{math.MaxInt64, math.MaxInt32},
	}
	for _, tt := range tests {
		if got := timeoutMillis(tt.in); got != tt.want {
			t.Errorf("timeoutMillis(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestWaitPassesRoundedUpTimeoutToEpollWait(t *testing.T) {
	p := newEpoll(t)
	var got []int
	defer sys.Swap(&sys.EpollWait, func(_ int, _ []unix.EpollEvent, msec int) (int, error) {
		got = append(got, msec)
		return 0, nil
	})()
	events := make([]Event, 4)
	for _, d := range []time.Duration{-1, 0, 100 * time.Microsecond, 20*time.Millisecond + 1} {
		if _, err := p.Wait(events, d); err != nil {
			t.Fatalf("Wait(%v): %v", d, err)
		}
	}
	if want := []int{-1, 0, 1, 21}; !equalInts(got, want) {
		t.Fatalf("epoll_wait timeouts = %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNewEpollCreate1EMFILEReturnsErrorAndLeaksNoFd(t *testing.T) {
	before := testutil.OpenFds()
	closed := closeRecorder(t)
	defer sys.Swap(&sys.EpollCreate1, func(int) (int, error) { return -1, unix.EMFILE })()
	p, err := New()
	if p != nil || !errors.Is(err, unix.EMFILE) || !strings.HasPrefix(err.Error(), "poller: epoll_create1: ") {
		t.Fatalf("New = (%v, %v), want (nil, poller: epoll_create1: EMFILE)", p, err)
	}
	if len(*closed) != 0 {
		t.Fatalf("New closed %v after creating nothing", *closed)
	}
	expectNoNewFds(t, before)
}

func TestNewEventfdFailureClosesEpollFd(t *testing.T) {
	before := testutil.OpenFds()
	closed := closeRecorder(t)
	epfd := -1
	realCreate := sys.EpollCreate1
	defer sys.Swap(&sys.EpollCreate1, func(flags int) (int, error) {
		fd, err := realCreate(flags)
		epfd = fd
		return fd, err
	})()
	defer sys.Swap(&sys.Eventfd, func(uint, int) (int, error) { return -1, unix.EMFILE })()
	p, err := New()
	if p != nil || !errors.Is(err, unix.EMFILE) || !strings.HasPrefix(err.Error(), "poller: eventfd: ") {
		t.Fatalf("New = (%v, %v), want (nil, poller: eventfd: EMFILE)", p, err)
	}
	if epfd < 0 || len(*closed) != 1 || (*closed)[0] != epfd {
		t.Fatalf("closed %v, want exactly the epoll fd %d", *closed, epfd)
	}
	expectNoNewFds(t, before)
}

func TestNewEpollCtlFailureClosesBothFds(t *testing.T) {
	before := testutil.OpenFds()
	closed := closeRecorder(t)
	var created []int
	realCreate, realEventfd := sys.EpollCreate1, sys.Eventfd
	defer sys.Swap(&sys.EpollCreate1, func(flags int) (int, error) {
		fd, err := realCreate(flags)
		created = append(created, fd)
		return fd, err
	})()
	defer sys.Swap(&sys.Eventfd, func(initval uint, flags int) (int, error) {
		fd, err := realEventfd(initval, flags)
		created = append(created, fd)
		return fd, err
	})()
	defer sys.Swap(&sys.EpollCtl, func(int, int, int, *unix.EpollEvent) error { return unix.ENOMEM })()
	p, err := New()
	if p != nil || !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("New = (%v, %v), want (nil, ENOMEM)", p, err)
	}
	gotClosed := map[int]bool{}
	for _, fd := range *closed {
		gotClosed[fd] = true
	}
	if len(created) != 2 || len(*closed) != 2 || !gotClosed[created[0]] || !gotClosed[created[1]] {
		t.Fatalf("created %v, closed %v: want both closed once", created, *closed)
	}
	expectNoNewFds(t, before)
}

// TestCloseReleasesBothFds: Close must not leave the eventfd or the epoll fd open.
func TestCloseReleasesBothFds(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if isOpen(p.epfd) || isOpen(p.wakeFd) {
		t.Fatalf("after Close: epoll fd open=%v, eventfd open=%v", isOpen(p.epfd), isOpen(p.wakeFd))
	}
}

// countWrites swaps sys.WriteFile for a wrapper that counts writes to fd.
func countWrites(t *testing.T, fd int, fail func(n int64) error) *atomic.Int64 {
	t.Helper()
	var writes atomic.Int64
	realWrite := sys.WriteFile
	t.Cleanup(sys.Swap(&sys.WriteFile, func(wfd int, b []byte) (int, error) {
		if wfd == fd {
			n := writes.Inc()
			if fail != nil {
				if err := fail(n); err != nil {
					return -1, err
				}
			}
		}
		return realWrite(wfd, b)
	}))
	return &writes
}

// waitWoken makes one Wait that a pending Wake must end promptly, with no event.
func waitWoken(t *testing.T, p *Poller) {
	t.Helper()
	start := time.Now()
	n, err := p.Wait(make([]Event, 4), 2*eventually)
	if n != 0 || err != nil || time.Since(start) >= eventually {
		t.Fatalf("Wait after Wake = (%d, %v) after %v, want a prompt (0, nil)", n, err, time.Since(start))
	}
}

// expectTimesOut checks that nothing is pending: a 20ms Wait runs to its timeout.
// A Wait that a signal cut short (epoll_wait returned EINTR, seen through the
// seam) is repeated; any other early return fails.
func expectTimesOut(t *testing.T, p *Poller) {
	t.Helper()
	const timeout = 20 * time.Millisecond
	var lastErr error
	realWait := sys.EpollWait
	defer sys.Swap(&sys.EpollWait, func(epfd int, ev []unix.EpollEvent, msec int) (int, error) {
		n, err := realWait(epfd, ev, msec)
		lastErr = err
		return n, err
	})()
	for range 10 {
		start := time.Now()
		n, err := p.Wait(make([]Event, 4), timeout)
		elapsed := time.Since(start)
		if n != 0 || err != nil {
			t.Fatalf("Wait(%v) = (%d, %v), want (0, nil)", timeout, n, err)
		}
		if elapsed >= timeout {
			return
		}
		if lastErr != unix.EINTR {
			t.Fatalf("Wait(%v) returned after %v without EINTR: something was pending", timeout, elapsed)
		}
	}
	t.Fatalf("Wait(%v) was interrupted by a signal 10 times in a row", timeout)
}

// Row 10 of RELIABILITY.md, wakeup storms, the poller's half: 10,000 Wakes from 8
// goroutines with no Wait in between make one eventfd write (counted at the
// sys.WriteFile seam), and the first Wake after the drain writes again. The loop's
// TestWakeupStormOfAMillionSubmitsCoalescesAndLosesNoTask is the whole row.
func TestWakeBurstCoalescesToOneEventfdWrite(t *testing.T) {
	p := newEpoll(t)
	writes := countWrites(t, p.wakeFd, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10000 / 8 {
				if err := p.Wake(); err != nil {
					t.Errorf("Wake: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := writes.Load(); got != 1 {
		t.Fatalf("10000 Wakes made %d eventfd writes, want 1", got)
	}
	waitWoken(t, p)
	expectTimesOut(t, p)
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	if got := writes.Load(); got != 2 {
		t.Fatalf("Wake after drain: %d eventfd writes in all, want 2", got)
	}
	waitWoken(t, p)
}

// Row 17 of RELIABILITY.md, EINTR, on the Wake side: an eventfd write that a
// signal interrupts is retried, and the wakeup still arrives.
func TestWakeRetriesEINTRFromEventfdWrite(t *testing.T) {
	p := newEpoll(t)
	writes := countWrites(t, p.wakeFd, func(n int64) error {
		if n == 1 {
			return unix.EINTR
		}
		return nil
	})
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	if got := writes.Load(); got != 2 {
		t.Fatalf("eventfd write attempts = %d, want 2 (EINTR, then success)", got)
	}
	waitWoken(t, p)
}

func TestWakeWriteErrorReopensGate(t *testing.T) {
	p := newEpoll(t)
	writes := countWrites(t, p.wakeFd, func(n int64) error {
		if n == 1 {
			return unix.EBADF
		}
		return nil
	})
	if err := p.Wake(); !errors.Is(err, unix.EBADF) || !strings.HasPrefix(err.Error(), "poller: eventfd write: ") {
		t.Fatalf("Wake with a failing write = %v, want poller: eventfd write: EBADF", err)
	}
	// The failed Wake reached nothing, so the next one must try again.
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake after a failed one: %v", err)
	}
	if got := writes.Load(); got != 2 {
		t.Fatalf("eventfd writes = %d, want 2", got)
	}
	waitWoken(t, p)
}

func TestWakeSaturatedCounterEAGAINIsSuccess(t *testing.T) {
	p := newEpoll(t)
	countWrites(t, p.wakeFd, func(int64) error { return unix.EAGAIN })
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake on a saturated eventfd = %v, want nil", err)
	}
}

// TestWakeDuringDrainIsNotLost provokes a Wake right before and right after Wait
// reads the eventfd. Either Wake coalesces into the one Wait is returning for, and
// afterwards the state must be clean: nothing pending, and the next Wake writes.
func TestWakeDuringDrainIsNotLost(t *testing.T) {
	for _, wakeAfterRead := range []bool{false, true} {
		name := "WakeBeforeRead"
		if wakeAfterRead {
			name = "WakeAfterRead"
		}
		t.Run(name, func(t *testing.T) {
			p := newEpoll(t)
			realRead := sys.Read
			restore := sys.Swap(&sys.Read, func(fd int, b []byte) (int, error) {
				if !wakeAfterRead {
					p.Wake()
				}
				n, err := realRead(fd, b)
				if wakeAfterRead {
					p.Wake()
				}
				return n, err
			})
			if err := p.Wake(); err != nil {
				t.Fatalf("Wake: %v", err)
			}
			waitWoken(t, p)
			restore()
			if got := p.WakeWrites(); got != 1 {
				t.Fatalf("WakeWrites = %d, want 1 (the Wake during drain coalesces)", got)
			}
			expectTimesOut(t, p)
			if err := p.Wake(); err != nil {
				t.Fatalf("Wake: %v", err)
			}
			if got := p.WakeWrites(); got != 2 {
				t.Fatalf("WakeWrites = %d, want 2: a Wake after the drain must reach the kernel", got)
			}
			waitWoken(t, p)
		})
	}
}

// TestWakeEndsWaitBlockedInEpollWait wakes a Wait that has already entered
// epoll_wait (the wrapper signals just before the call).
func TestWakeEndsWaitBlockedInEpollWait(t *testing.T) {
	p := newEpoll(t)
	entered := make(chan struct{}, 1)
	realWait := sys.EpollWait
	defer sys.Swap(&sys.EpollWait, func(epfd int, ev []unix.EpollEvent, msec int) (int, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		return realWait(epfd, ev, msec)
	})()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := p.Wait(make([]Event, 4), -1)
		done <- result{n, err}
	}()
	testutil.Recv(t, entered, eventually, "Wait to enter epoll_wait")
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	if r := testutil.Recv(t, done, eventually, "Wait(-1) to return after Wake"); r.n != 0 || r.err != nil {
		t.Fatalf("Wait(-1) after Wake = (%d, %v), want (0, nil)", r.n, r.err)
	}
}

// TestAddAfterCloseDoesNotRegisterInReusedEpollFd: after Close the epoll fd number
// is free, and the next epoll instance usually gets it. An Add on the closed
// Poller must not register the fd in that other instance.
func TestAddAfterCloseDoesNotRegisterInReusedEpollFd(t *testing.T) {
	closedPoller, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := closedPoller.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	other := newEpoll(t)
	if other.epfd != closedPoller.epfd {
		t.Skipf("the kernel did not reuse epoll fd %d (got %d)", closedPoller.epfd, other.epfd)
	}
	sp := readablePair(t)
	err = closedPoller.Add(sp[0], Readable)
	n, werr := other.Wait(make([]Event, 4), 0)
	if werr != nil {
		t.Fatalf("Wait: %v", werr)
	}
	if n != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("Add on a closed Poller = %v, and another Poller now reports %d event(s): want ErrClosed and none", err, n)
	}
}

// TestWakeAfterCloseDoesNotWriteToReusedFd: Wake is safe from any goroutine, so it
// may come after Close. The eventfd number is free by then; the next socket may
// get it, and Wake must not write its 8 bytes into that socket.
func TestWakeAfterCloseDoesNotWriteToReusedFd(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	peer := map[int]int{fds[0]: fds[1], fds[1]: fds[0]}
	victimPeer, reused := peer[p.wakeFd]
	if !reused {
		t.Skipf("the kernel did not reuse eventfd %d (got %v)", p.wakeFd, fds)
	}
	wakeErr := p.Wake()
	var buf [16]byte
	n, _ := unix.Read(victimPeer, buf[:])
	if n > 0 || !errors.Is(wakeErr, ErrClosed) {
		t.Fatalf("Wake on a closed Poller = %v and wrote %d byte(s) % x into an unrelated socket that reused fd %d: want ErrClosed and nothing written",
			wakeErr, max(n, 0), buf[:max(n, 0)], p.wakeFd)
	}
}
