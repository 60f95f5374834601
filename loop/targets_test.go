package loop

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/poller"
)

// registerPair registers one end of a new socketpair for in and returns its
// target and the peer end. The loop owns the target's fd (released when the loop
// closes); the peer is closed when the test ends.
func registerPair(t *testing.T, l *Loop, in poller.Interest) (*recTarget, int) {
	t.Helper()
	fd, peer := socketpair(t)
	closeAtEnd(t, peer)
	rt := &recTarget{fd: fd}
	if err := l.Register(rt, in); err != nil {
		unix.Close(fd)
		t.Fatalf("Register: %v", err)
	}
	return rt, peer
}

// drain reads everything readable from fd.
func drain(fd int) {
	var buf [512]byte
	for {
		if n, err := unix.Read(fd, buf[:]); n <= 0 || err != nil {
			return
		}
	}
}

func TestRegisterDeliversReadableEvents(t *testing.T) {
	l := newTestLoop(t, nil)
	rt, peer := registerPair(t, l, poller.Readable)
	rt.handle = func(poller.Event) { drain(rt.fd) }
	if got := l.Stats().Targets; got != 1 {
		t.Fatalf("Stats().Targets = %d, want 1", got)
	}
	if got := l.Interest(rt); got != poller.Readable {
		t.Fatalf("Interest = %v, want Readable", got)
	}

	mustWrite(t, peer, "hello")
	dispatchUntil(t, l, func() bool { return len(rt.events) > 0 }, "a Readable event")
	if ev := rt.events[0]; ev.Fd != rt.fd || ev.Ready&poller.Readable == 0 {
		t.Fatalf("event %+v, want Readable on fd %d", ev, rt.fd)
	}
	dispatchRounds(t, l, 3) // drained: nothing more to report
	if len(rt.events) != 1 {
		t.Fatalf("%d events after draining, want 1", len(rt.events))
	}
	mustWrite(t, peer, "again")
	dispatchUntil(t, l, func() bool { return len(rt.events) == 2 }, "a second Readable event")
}

func TestRegisterTwiceReturnsErrRegistered(t *testing.T) {
	l := newTestLoop(t, nil)
	rt, _ := registerPair(t, l, poller.Readable)
	if err := l.Register(rt, poller.Readable); !errors.Is(err, ErrRegistered) {
		t.Fatalf("second Register of the same target = %v, want ErrRegistered", err)
	}
	other := &recTarget{fd: rt.fd}
	if err := l.Register(other, poller.Writable); !errors.Is(err, ErrRegistered) {
		t.Fatalf("Register of another target on the same fd = %v, want ErrRegistered", err)
	}
	if got := l.Interest(rt); got != poller.Readable {
		t.Fatalf("Interest after the refused Registers = %v, want Readable", got)
	}
}

func TestRegisterNegativeFdReturnsErrBadFd(t *testing.T) {
	l := newTestLoop(t, nil)
	for _, fd := range []int{-1, -1000} {
		if err := l.Register(&recTarget{fd: fd}, poller.Readable); !errors.Is(err, ErrBadFd) {
			t.Fatalf("Register(fd %d) = %v, want ErrBadFd", fd, err)
		}
	}
}

// epoll refuses regular files (EPERM). The refused target must not be left in the
// table, or the fd could never be registered again.
func TestRegisterRefusedByPollerLeavesNoTarget(t *testing.T) {
	l := newTestLoop(t, nil)
	f, err := os.Create(filepath.Join(t.TempDir(), "regular"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rt := &recTarget{fd: int(f.Fd())}
	for range 2 {
		err := l.Register(rt, poller.Readable)
		if err == nil || errors.Is(err, ErrRegistered) {
			t.Fatalf("Register of a regular file = %v, want the poller's error", err)
		}
	}
	if got := l.Stats().Targets; got != 0 {
		t.Fatalf("Stats().Targets = %d, want 0", got)
	}
	if err := l.Unregister(rt); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("Unregister = %v, want ErrNotRegistered", err)
	}
}

func TestCallsOnUnknownTargetReturnErrNotRegistered(t *testing.T) {
	l := newTestLoop(t, nil)
	registered, _ := registerPair(t, l, poller.Readable)
	unknown := &recTarget{fd: 12345}
	sameFd := &recTarget{fd: registered.fd} // a different target on a registered fd
	for _, tg := range []Target{unknown, sameFd} {
		if err := l.SetInterest(tg, poller.Readable); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("SetInterest = %v, want ErrNotRegistered", err)
		}
		if err := l.Unregister(tg); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Unregister = %v, want ErrNotRegistered", err)
		}
		if err := l.DeferWrite(tg); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("DeferWrite = %v, want ErrNotRegistered", err)
		}
		if err := l.Release(tg); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Release = %v, want ErrNotRegistered", err)
		}
		if got := l.Interest(tg); got != 0 {
			t.Errorf("Interest = %v, want 0", got)
		}
	}
	if !fdOpen(registered.fd) || l.Interest(registered) != poller.Readable {
		t.Fatal("calls on another target disturbed the registered one")
	}
}

func TestUnregisterStopsDeliveryAndLeavesFdOpen(t *testing.T) {
	l := newTestLoop(t, nil)
	rt, peer := registerPair(t, l, poller.Readable)
	mustWrite(t, peer, "x") // never read: the fd stays readable
	dispatchUntil(t, l, func() bool { return len(rt.events) > 0 }, "a Readable event")
	if err := l.Unregister(rt); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	n := len(rt.events)
	dispatchRounds(t, l, 5)
	if len(rt.events) != n {
		t.Fatalf("%d events after Unregister, want 0", len(rt.events)-n)
	}
	if !fdOpen(rt.fd) {
		t.Fatal("Unregister closed the fd; it belongs to the caller")
	}
	if got := l.Stats().Targets; got != 0 {
		t.Fatalf("Stats().Targets = %d, want 0", got)
	}
	// The fd can be registered again.
	if err := l.Register(rt, poller.Readable); err != nil {
		t.Fatalf("Register after Unregister: %v", err)
	}
	dispatchUntil(t, l, func() bool { return len(rt.events) > n }, "an event after registering again")
	if err := l.Unregister(rt); err != nil {
		t.Fatal(err)
	}
	unix.Close(rt.fd)
}

func TestSetInterestZeroStopsDeliveryUntilSetAgain(t *testing.T) {
	l := newTestLoop(t, nil)
	rt, peer := registerPair(t, l, poller.Readable)
	mustWrite(t, peer, "x") // never read: the fd stays readable
	dispatchUntil(t, l, func() bool { return len(rt.events) > 0 }, "a Readable event")
	if err := l.SetInterest(rt, 0); err != nil {
		t.Fatalf("SetInterest(0): %v", err)
	}
	n := len(rt.events)
	dispatchRounds(t, l, 5)
	if len(rt.events) != n {
		t.Fatalf("%d events after SetInterest(0), want 0", len(rt.events)-n)
	}
	if got, st := l.Interest(rt), l.Stats(); got != 0 || st.Targets != 1 {
		t.Fatalf("Interest %v, Targets %d; want 0, 1 (still registered)", got, st.Targets)
	}
	if err := l.SetInterest(rt, poller.Readable); err != nil {
		t.Fatalf("SetInterest(Readable): %v", err)
	}
	dispatchUntil(t, l, func() bool { return len(rt.events) > n }, "events after SetInterest(Readable)")
}

func TestDeferWriteDeliversExactlyOneWritableEvent(t *testing.T) {
	l := newTestLoop(t, nil)
	rt, _ := registerPair(t, l, poller.Readable) // always writable, never readable
	if err := l.DeferWrite(rt); err != nil {
		t.Fatalf("DeferWrite: %v", err)
	}
	dispatchUntil(t, l, func() bool { return len(rt.events) > 0 }, "the deferred Writable event")
	dispatchRounds(t, l, 5)
	if len(rt.events) != 1 || rt.events[0].Ready&poller.Writable == 0 {
		t.Fatalf("events %v, want exactly one with Writable", rt.events)
	}
	if got := l.Interest(rt); got != poller.Readable {
		t.Fatalf("Interest after the notification = %v, want Readable", got)
	}

	// A DeferWrite from the target's own handler arms exactly one more.
	rearmed := false
	rt.handle = func(poller.Event) {
		if !rearmed {
			rearmed = true
			if err := l.DeferWrite(rt); err != nil {
				t.Errorf("DeferWrite in handler: %v", err)
			}
		}
	}
	l.DeferWrite(rt)
	dispatchUntil(t, l, func() bool { return len(rt.events) >= 3 }, "two more Writable events")
	dispatchRounds(t, l, 5)
	if len(rt.events) != 3 {
		t.Fatalf("%d events in all, want 3", len(rt.events))
	}
}

func TestFiltererFilterIsReReadAfterEachEvent(t *testing.T) {
	l := newTestLoop(t, nil)
	fd, peer := socketpair(t)
	closeAtEnd(t, peer)
	ft := &filterTarget{recTarget: recTarget{fd: fd}}
	ft.filter = func(calls int) poller.Interest {
		if calls == 1 {
			return poller.Readable | poller.Writable // ask for more after the first event
		}
		return 0 // and for nothing after the second
	}
	if err := l.Register(ft, poller.Readable); err != nil {
		t.Fatal(err)
	}
	quietFd, quietPeer := socketpair(t)
	closeAtEnd(t, quietPeer)
	quiet := &filterTarget{recTarget: recTarget{fd: quietFd}, filter: func(int) poller.Interest { return poller.Readable }}
	if err := l.Register(quiet, poller.Readable); err != nil {
		t.Fatal(err)
	}

	mustWrite(t, peer, "x") // never read: readable on every round while watched
	dispatchUntil(t, l, func() bool { return len(ft.events) >= 2 }, "two events")
	dispatchRounds(t, l, 5)
	if len(ft.events) != 2 {
		t.Fatalf("%d events, want 2: Filter returned 0 after the second", len(ft.events))
	}
	if ft.events[0].Ready&poller.Writable != 0 || ft.events[1].Ready&poller.Writable == 0 {
		t.Fatalf("events %v: want Writable only in the second, after Filter asked for it", ft.events)
	}
	if ft.filterCalls != 2 {
		t.Fatalf("Filter called %d times, want once per event (2)", ft.filterCalls)
	}
	if got := l.Interest(ft); got != 0 {
		t.Fatalf("Interest = %v, want 0 from Filter", got)
	}
	if quiet.filterCalls != 0 || len(quiet.events) != 0 {
		t.Fatalf("target without events: Filter called %d times, want 0", quiet.filterCalls)
	}
}

func TestUnregisterDuringBatchDropsEventAlreadyInBatch(t *testing.T) {
	l := newTestLoop(t, nil)
	a, peerA := registerPair(t, l, poller.Readable)
	b, peerB := registerPair(t, l, poller.Readable)
	var victim *recTarget
	// Both are readable in one batch; whichever handler runs first unregisters the
	// other.
	first := func(other *recTarget) func(poller.Event) {
		return func(poller.Event) {
			if victim == nil {
				victim = other
				if err := l.Unregister(other); err != nil {
					t.Errorf("Unregister: %v", err)
				}
			}
		}
	}
	a.handle, b.handle = first(b), first(a)
	mustWrite(t, peerA, "x")
	mustWrite(t, peerB, "x")
	events := l.Stats().Events
	if err := l.DispatchOnce(waitFor); err != nil {
		t.Fatal(err)
	}
	if got := l.Stats().Events - events; got != 2 {
		t.Fatalf("the round saw %d events, want both in one batch", got)
	}
	if victim == nil {
		t.Fatal("no handler ran")
	}
	if len(victim.events) != 0 {
		t.Fatalf("the target unregistered earlier in the batch got %d events, want 0", len(victim.events))
	}
	unix.Close(victim.fd)
}
