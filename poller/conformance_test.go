package poller_test

// The conformance suite: the package doc's contract, checked through the public
// API only, so the same tests run against every backend (epoll and kqueue). It uses
// only portable calls (AF_UNIX socketpairs, read, write, shutdown, close).

import (
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/poller"
)

// wait is the Wait under test: Poller.Wait, or Poller.Park when
// TestConformanceOfPark runs the suite again.
var wait = (*poller.Poller).Wait

// eventually bounds every wait for something that must happen; it is never a
// sleep, only a ceiling that a working backend is far below.
const eventually = 5 * time.Second

// newPoller returns a Poller that is closed when the test ends.
func newPoller(t testing.TB) *poller.Poller {
	t.Helper()
	p, err := poller.New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil && !errors.Is(err, poller.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// socketPair returns both ends of a non-blocking AF_UNIX stream socketpair. Both
// are closed when the test ends, unless a test closed one first with closeEnd.
func socketPair(t testing.TB) *[2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	sp := &[2]int{fds[0], fds[1]}
	t.Cleanup(func() {
		for i := range sp {
			closeEnd(t, &sp[i])
		}
	})
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatalf("set nonblock: %v", err)
		}
	}
	return sp
}

// closeEnd closes *fd once and marks it closed with -1.
func closeEnd(t testing.TB, fd *int) {
	t.Helper()
	if *fd < 0 {
		return
	}
	if err := unix.Close(*fd); err != nil {
		t.Errorf("close %d: %v", *fd, err)
	}
	*fd = -1
}

func writeByte(t testing.TB, fd int) {
	t.Helper()
	if n, err := unix.Write(fd, []byte{'x'}); n != 1 || err != nil {
		t.Fatalf("write %d: n=%d err=%v", fd, n, err)
	}
}

// drain reads fd until EAGAIN.
func drain(t testing.TB, fd int) {
	t.Helper()
	var buf [512]byte
	for {
		n, err := unix.Read(fd, buf[:])
		if err == unix.EAGAIN {
			return
		}
		if err != nil || n == 0 {
			t.Fatalf("read %d: n=%d err=%v", fd, n, err)
		}
	}
}

// waitOnce makes one Wait call and returns the events it filled.
func waitOnce(t testing.TB, p *poller.Poller, timeout time.Duration) []poller.Event {
	t.Helper()
	events := make([]poller.Event, 64)
	n, err := wait(p, events, timeout)
	if err != nil {
		t.Fatalf("Wait(%v): %v", timeout, err)
	}
	if n < 0 || n > len(events) {
		t.Fatalf("Wait(%v) returned n=%d for %d slots", timeout, n, len(events))
	}
	return events[:n]
}

// readyOf ORs the bits every event of one Wait reports for fd (kqueue may split
// one fd's read and write readiness into two events).
func readyOf(events []poller.Event, fd int) (poller.Ready, bool) {
	var r poller.Ready
	found := false
	for _, ev := range events {
		if ev.Fd == fd {
			r |= ev.Ready
			found = true
		}
	}
	return r, found
}

// waitReady waits, bounded, until one Wait reports all of want for fd, and
// returns everything that Wait reported for it. Waits that return early (EINTR,
// spurious) are simply repeated.
func waitReady(t testing.TB, p *poller.Poller, fd int, want poller.Ready) poller.Ready {
	t.Helper()
	deadline := time.Now().Add(eventually)
	var last poller.Ready
	for time.Now().Before(deadline) {
		r, ok := readyOf(waitOnce(t, p, 100*time.Millisecond), fd)
		if ok && r&want == want {
			return r
		}
		if ok {
			last = r
		}
	}
	t.Fatalf("fd %d never reported %v within %v (last reported: %v)", fd, want, eventually, last)
	return 0
}

// expectNoEvents checks that neither a poll nor a short blocking Wait reports
// anything.
func expectNoEvents(t testing.TB, p *poller.Poller, what string) {
	t.Helper()
	for _, timeout := range []time.Duration{0, 10 * time.Millisecond} {
		if evs := waitOnce(t, p, timeout); len(evs) != 0 {
			t.Fatalf("%s: Wait(%v) reported %v, want nothing", what, timeout, evs)
		}
	}
}

// waitWoken makes one Wait that a pending Wake must end promptly, with no event.
func waitWoken(t testing.TB, p *poller.Poller) {
	t.Helper()
	start := time.Now()
	evs := waitOnce(t, p, eventually*2)
	if elapsed := time.Since(start); elapsed >= eventually {
		t.Fatalf("Wait after Wake took %v, want prompt return", elapsed)
	}
	if len(evs) != 0 {
		t.Fatalf("Wait after Wake reported %v, want no event (the wakeup is never an event)", evs)
	}
}

func TestEmptySocketIsNotReadable(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	expectNoEvents(t, p, "empty socket with Readable interest")
}

func TestPeerWriteMakesReadable(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	writeByte(t, sp[1])
	if r := waitReady(t, p, sp[0], poller.Readable); r&poller.Writable != 0 {
		t.Fatalf("reported %v without Writable interest", r)
	}
}

func TestUnreadDataIsReportedByEveryWait(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	writeByte(t, sp[1])
	waitReady(t, p, sp[0], poller.Readable)
	for i := 0; i < 3; i++ {
		r, ok := readyOf(waitOnce(t, p, 0), sp[0])
		if !ok || r&poller.Readable == 0 {
			t.Fatalf("Wait #%d after an unread write: got %v (reported=%v), want Readable again (level-triggered)", i+2, r, ok)
		}
	}
	drain(t, sp[0])
	expectNoEvents(t, p, "after reading everything")
}

func TestEmptySocketIsWritable(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	if err := p.Add(sp[0], poller.Writable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if r := waitReady(t, p, sp[0], poller.Writable); r&poller.Readable != 0 {
		t.Fatalf("reported %v on an empty socket, want no Readable", r)
	}
}

func TestModifySwitchesBetweenReadableAndWritable(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	writeByte(t, sp[1]) // sp[0] is now both readable and writable.
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	steps := []struct {
		in         poller.Interest
		want, deny poller.Ready
	}{
		{poller.Writable, poller.Writable, poller.Readable},
		{poller.Readable, poller.Readable, poller.Writable},
		{poller.Readable | poller.Writable, poller.Readable | poller.Writable, 0},
		{poller.Writable, poller.Writable, poller.Readable},
	}
	if r := waitReady(t, p, sp[0], poller.Readable); r&poller.Writable != 0 {
		t.Fatalf("after Add(Readable): reported %v, want no Writable", r)
	}
	for _, s := range steps {
		if err := p.Modify(sp[0], s.in); err != nil {
			t.Fatalf("Modify(%v): %v", s.in, err)
		}
		if r := waitReady(t, p, sp[0], s.want); r&s.deny != 0 {
			t.Fatalf("after Modify(%v): reported %v, want none of %v", s.in, r, s.deny)
		}
	}
}

func TestDeleteStopsEventsWithDataPending(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	if err := p.Add(sp[0], poller.Readable|poller.Writable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	writeByte(t, sp[1])
	waitReady(t, p, sp[0], poller.Readable|poller.Writable)
	if err := p.Delete(sp[0]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	expectNoEvents(t, p, "after Delete with data pending")
	// The fd is no longer watched, so it can be added again.
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatalf("Add after Delete: %v", err)
	}
	waitReady(t, p, sp[0], poller.Readable)
}

func TestInterestWithReadyOnlyBitsIsRejected(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	bad := []poller.Interest{
		poller.Hangup, poller.Error, poller.ReadHangup, 0x80,
		poller.Readable | poller.Hangup, poller.Writable | 0x40,
	}
	for _, in := range bad {
		if err := p.Add(sp[0], in); !errors.Is(err, poller.ErrInterest) {
			t.Fatalf("Add(%v) = %v, want ErrInterest", in, err)
		}
	}
	// A rejected Add must not have registered the fd.
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatalf("Add(Readable) after rejected Adds: %v", err)
	}
	for _, in := range bad {
		if err := p.Modify(sp[0], in); !errors.Is(err, poller.ErrInterest) {
			t.Fatalf("Modify(%v) = %v, want ErrInterest", in, err)
		}
	}
	// A rejected Modify must leave the Readable-only registration alone.
	writeByte(t, sp[1])
	if r := waitReady(t, p, sp[0], poller.Readable); r&poller.Writable != 0 {
		t.Fatalf("after rejected Modifys: reported %v, want Readable only", r)
	}
}

func TestPeerShutdownWriteReportsReadHangup(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := unix.Shutdown(sp[1], unix.SHUT_WR); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r := waitReady(t, p, sp[0], poller.Readable|poller.ReadHangup)
	if r&poller.Hangup != 0 {
		t.Fatalf("half-close reported %v, want no Hangup (our write side is still open)", r)
	}
}

func TestPeerCloseIsReported(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	closeEnd(t, &sp[1])
	r := waitReady(t, p, sp[0], poller.Readable)
	if r&(poller.ReadHangup|poller.Hangup) == 0 {
		t.Fatalf("peer close reported %v, want ReadHangup or Hangup", r)
	}
}

func TestWakeFromAnotherGoroutineEndsBlockingWait(t *testing.T) {
	p := newPoller(t)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		events := make([]poller.Event, 8)
		n, err := wait(p, events, -1)
		done <- result{n, err}
	}()
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	r := testutil.Recv(t, done, eventually, "Wait(-1) to return after Wake")
	if r.err != nil || r.n != 0 {
		t.Fatalf("Wait(-1) after Wake = (%d, %v), want (0, nil)", r.n, r.err)
	}
	// The wakeup was consumed, not left behind as an event.
	expectNoEvents(t, p, "after the woken Wait")
}

func TestWakeBeforeWaitMakesNextWaitReturn(t *testing.T) {
	p := newPoller(t)
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	waitWoken(t, p)
}

// expectFullTimeout checks that a Wait with nothing ready runs for at least
// timeout. The contract lets a signal cut one Wait short (EINTR returns (0, nil)),
// and the public API cannot tell that apart from a Wait that woke too early, so a
// few attempts are allowed: a backend that rounds a timeout down, or that still
// has a wakeup pending, returns early on every one of them.
func expectFullTimeout(t testing.TB, p *poller.Poller, timeout time.Duration, what string) {
	t.Helper()
	const attempts = 3
	var early []time.Duration
	for range attempts {
		start := time.Now()
		evs := waitOnce(t, p, timeout)
		elapsed := time.Since(start)
		if len(evs) != 0 {
			t.Fatalf("%s: Wait(%v) reported %v, want nothing", what, timeout, evs)
		}
		if elapsed > timeout+eventually {
			t.Fatalf("%s: Wait(%v) returned after %v", what, timeout, elapsed)
		}
		if elapsed >= timeout {
			if len(early) > 0 {
				t.Logf("%s: Wait(%v) returned early %v before a full wait (a signal, allowed)", what, timeout, early)
			}
			return
		}
		early = append(early, elapsed)
	}
	t.Fatalf("%s: every Wait(%v) returned before its timeout, after %v", what, timeout, early)
}

func TestWaitAfterDrainedWakeBlocksForTimeout(t *testing.T) {
	p := newPoller(t)
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	waitWoken(t, p)
	expectFullTimeout(t, p, 20*time.Millisecond, "after the wakeup was drained")
}

func TestWaitTimeoutNeverReturnsEarly(t *testing.T) {
	p := newPoller(t)
	for _, timeout := range []time.Duration{100 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		t.Run(timeout.String(), func(t *testing.T) {
			expectFullTimeout(t, p, timeout, "nothing watched")
		})
	}
}

func TestWakeBurstCoalescesToOneWrite(t *testing.T) {
	p := newPoller(t)
	before := p.WakeWrites()
	const goroutines, wakesEach = 8, 10000 / 8
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range wakesEach {
				if err := p.Wake(); err != nil {
					t.Errorf("Wake: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := p.WakeWrites() - before; got != 1 {
		t.Fatalf("%d Wakes without a Wait made %d kernel writes, want 1", goroutines*wakesEach, got)
	}
	waitWoken(t, p)
	// The drain re-opens the gate: the next Wake reaches the kernel again.
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake after drain: %v", err)
	}
	if got := p.WakeWrites() - before; got != 2 {
		t.Fatalf("Wake after drain: %d kernel writes in all, want 2", got)
	}
	waitWoken(t, p)
}

func TestWaitWithEmptyEventsReturnsZero(t *testing.T) {
	p := newPoller(t)
	sp := socketPair(t)
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatalf("Add: %v", err)
	}
	writeByte(t, sp[1])
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n1, err1 := wait(p, nil, -1)
		n2, err2 := wait(p, []poller.Event{}, -1)
		done <- result{n1 + n2, errors.Join(err1, err2)}
	}()
	r := testutil.Recv(t, done, eventually, "Wait with no room for events to return")
	if r.n != 0 || r.err != nil {
		t.Fatalf("Wait with empty events = (%d, %v), want (0, nil)", r.n, r.err)
	}
}

func TestWaitAfterCloseReturnsErrClosed(t *testing.T) {
	p, err := poller.New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n, err := wait(p, make([]poller.Event, 4), 0); n != 0 || !errors.Is(err, poller.ErrClosed) {
		t.Fatalf("Wait after Close = (%d, %v), want (0, ErrClosed)", n, err)
	}
	if err := p.Close(); !errors.Is(err, poller.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

// TestAddAfterCloseReturnsErrClosed: ErrClosed "reports a call on a closed
// Poller". A registration call that reaches the kernel after Close uses an fd
// number that the process may already have reused.
func TestAddAfterCloseReturnsErrClosed(t *testing.T) {
	sp := socketPair(t)
	p, err := poller.New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Add(sp[0], poller.Readable); !errors.Is(err, poller.ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
	if err := p.Modify(sp[0], poller.Writable); !errors.Is(err, poller.ErrClosed) {
		t.Errorf("Modify after Close = %v, want ErrClosed", err)
	}
	if err := p.Delete(sp[0]); !errors.Is(err, poller.ErrClosed) {
		t.Errorf("Delete after Close = %v, want ErrClosed", err)
	}
}

// TestWakeAfterCloseReturnsErrClosed: Wake is safe from any goroutine, so it can
// come after the loop closed the Poller; it must not touch the released wakeup.
func TestWakeAfterCloseReturnsErrClosed(t *testing.T) {
	p, err := poller.New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Wake(); !errors.Is(err, poller.ErrClosed) {
		t.Fatalf("Wake after Close = %v, want ErrClosed", err)
	}
}

func TestShortEventsSliceLeavesRestForNextWait(t *testing.T) {
	p := newPoller(t)
	want := map[int]bool{}
	for range 3 {
		sp := socketPair(t)
		if err := p.Add(sp[0], poller.Readable); err != nil {
			t.Fatalf("Add: %v", err)
		}
		writeByte(t, sp[1])
		want[sp[0]] = true
	}
	events := make([]poller.Event, 2)
	seen := map[int]bool{}
	for i, wantN := range []int{2, -1} {
		n, err := wait(p, events, 0)
		if err != nil {
			t.Fatalf("Wait #%d: %v", i+1, err)
		}
		if wantN >= 0 && n != wantN {
			t.Fatalf("Wait #%d with 3 ready fds and %d slots returned %d", i+1, len(events), n)
		}
		for _, ev := range events[:n] {
			if !want[ev.Fd] || ev.Ready&poller.Readable == 0 {
				t.Fatalf("Wait #%d reported %+v, not a ready fd of ours", i+1, ev)
			}
			seen[ev.Fd] = true
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("two Waits of %d slots reported fds %v, want all of %v", len(events), seen, want)
	}
}

func TestManyFdsAreEachReported(t *testing.T) {
	p := newPoller(t)
	const pairs = 200
	want := map[int]bool{}
	for range pairs {
		sp := socketPair(t)
		if err := p.Add(sp[0], poller.Readable); err != nil {
			t.Fatalf("Add: %v", err)
		}
		writeByte(t, sp[1])
		want[sp[0]] = true
	}
	seen := map[int]bool{}
	deadline := time.Now().Add(eventually)
	for len(seen) < pairs && time.Now().Before(deadline) {
		for _, ev := range waitOnce(t, p, 100*time.Millisecond) {
			if !want[ev.Fd] || ev.Ready&poller.Readable == 0 {
				t.Fatalf("reported %+v, not a ready fd of ours", ev)
			}
			if !seen[ev.Fd] {
				seen[ev.Fd] = true
				drain(t, ev.Fd) // so the fds not yet seen get the slots
			}
		}
	}
	if len(seen) != pairs {
		t.Fatalf("%d of %d ready fds reported within %v", len(seen), pairs, eventually)
	}
}

func TestReadyAndInterestString(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{poller.Interest(0).String(), "0"},
		{poller.Ready(0).String(), "0"},
		{poller.Interest(poller.Readable | poller.Writable).String(), "Readable|Writable"},
		{poller.Interest(poller.Priority).String(), "Priority"},
		{poller.Ready(poller.Readable | poller.ReadHangup).String(), "Readable|ReadHangup"},
		{poller.Ready(poller.Hangup | poller.Error).String(), "Hangup|Error"},
		{poller.Ready(0x80).String(), "0x80"},
		{poller.Ready(0xff).String(), "Readable|Writable|Priority|Hangup|ReadHangup|Error|0xc0"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

// Park keeps Wait's contract: the whole suite again, with every Wait a Park.
func TestConformanceOfPark(t *testing.T) {
	wait = (*poller.Poller).Park
	defer func() { wait = (*poller.Poller).Wait }()
	for _, test := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"EmptySocketIsNotReadable", TestEmptySocketIsNotReadable},
		{"PeerWriteMakesReadable", TestPeerWriteMakesReadable},
		{"UnreadDataIsReportedByEveryWait", TestUnreadDataIsReportedByEveryWait},
		{"EmptySocketIsWritable", TestEmptySocketIsWritable},
		{"ModifySwitchesBetweenReadableAndWritable", TestModifySwitchesBetweenReadableAndWritable},
		{"DeleteStopsEventsWithDataPending", TestDeleteStopsEventsWithDataPending},
		{"InterestWithReadyOnlyBitsIsRejected", TestInterestWithReadyOnlyBitsIsRejected},
		{"PeerShutdownWriteReportsReadHangup", TestPeerShutdownWriteReportsReadHangup},
		{"PeerCloseIsReported", TestPeerCloseIsReported},
		{"WakeFromAnotherGoroutineEndsBlockingWait", TestWakeFromAnotherGoroutineEndsBlockingWait},
		{"WakeBeforeWaitMakesNextWaitReturn", TestWakeBeforeWaitMakesNextWaitReturn},
		{"WaitAfterDrainedWakeBlocksForTimeout", TestWaitAfterDrainedWakeBlocksForTimeout},
		{"WaitTimeoutNeverReturnsEarly", TestWaitTimeoutNeverReturnsEarly},
		{"WakeBurstCoalescesToOneWrite", TestWakeBurstCoalescesToOneWrite},
		{"WaitWithEmptyEventsReturnsZero", TestWaitWithEmptyEventsReturnsZero},
		{"WaitAfterCloseReturnsErrClosed", TestWaitAfterCloseReturnsErrClosed},
		{"AddAfterCloseReturnsErrClosed", TestAddAfterCloseReturnsErrClosed},
		{"WakeAfterCloseReturnsErrClosed", TestWakeAfterCloseReturnsErrClosed},
		{"ShortEventsSliceLeavesRestForNextWait", TestShortEventsSliceLeavesRestForNextWait},
		{"ManyFdsAreEachReported", TestManyFdsAreEachReported},
		{"ReadyAndInterestString", TestReadyAndInterestString},
	} {
		t.Run(test.name, test.run)
	}
}
