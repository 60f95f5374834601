//go:build linux

// Linux only: these tests count epoll_ctl calls through the syscall seam.

package loop

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/poller"
)

// ctlCounter counts the epoll_ctl calls made on fd, and makes those with failOp
// fail with failWith when that is set.
type ctlCounter struct {
	fd       int
	calls    int
	failOp   int
	failWith error
}

// countCtl swaps sys.EpollCtl for one that counts into cc, before the loop runs;
// the original comes back when the test ends.
func countCtl(t *testing.T, cc *ctlCounter) {
	real := sys.EpollCtl
	t.Cleanup(sys.Swap(&sys.EpollCtl, func(epfd, op, fd int, ev *unix.EpollEvent) error {
		if fd == cc.fd {
			cc.calls++
			if cc.failWith != nil && op == cc.failOp {
				return cc.failWith
			}
		}
		return real(epfd, op, fd, ev)
	}))
}

// Interest set inside the target's own callback reaches the poller once, when the
// callback returns, however many times it changed meanwhile; outside a callback it
// reaches it at once.
func TestInterestSetInsideACallbackReachesThePollerOnceWhenItReturns(t *testing.T) {
	cc := &ctlCounter{fd: -1}
	countCtl(t, cc)
	l := newTestLoop(t, nil)
	rt, peer := registerPair(t, l, poller.Readable)
	r := l.Handle(rt)
	cc.fd = rt.fd
	var inside, callsInside int
	rt.handle = func(poller.Event) {
		drain(rt.fd)
		inside++
		if !r.InCallback() {
			t.Error("InCallback is false inside HandleEvent")
		}
		for _, in := range []poller.Interest{poller.Readable | poller.Writable, 0, poller.Readable | poller.Writable} {
			if err := r.SetInterest(in); err != nil {
				t.Errorf("SetInterest(%v) inside the callback: %v", in, err)
			}
		}
		callsInside = cc.calls
	}
	mustWrite(t, peer, "x")
	dispatchUntil(t, l, func() bool { return inside > 0 }, "the readable event")
	if callsInside != 0 {
		t.Fatalf("%d epoll_ctl calls while the callback ran, want none", callsInside)
	}
	if cc.calls != 1 {
		t.Fatalf("%d epoll_ctl calls after the callback, want exactly 1", cc.calls)
	}
	if r.InCallback() {
		t.Fatal("InCallback is true after the callback returned")
	}
	rt.handle = nil
	if err := r.SetInterest(poller.Readable); err != nil || cc.calls != 2 {
		t.Fatalf("SetInterest outside a callback: err %v, %d epoll_ctl calls; want nil and one more at once", err, cc.calls)
	}
	if err := r.SetInterest(poller.Readable); err != nil || cc.calls != 2 {
		t.Fatalf("SetInterest to the same interest: err %v, %d epoll_ctl calls; want no call", err, cc.calls)
	}
}

// A poller that refuses the interest a callback set gives the target up, as a
// panic does: the error is reported with the target and its Finalize runs.
func TestPollerRefusingInterestSetInACallbackGivesTheTargetUp(t *testing.T) {
	cc := &ctlCounter{fd: -1, failOp: unix.EPOLL_CTL_MOD, failWith: unix.ENOMEM}
	countCtl(t, cc)
	var reported []error
	l := newTestLoop(t, func(_ Target, err error) { reported = append(reported, err) })
	ft, peer := registerReleasingTarget(t, l)
	cc.fd = ft.fd
	ft.handle = func(poller.Event) { l.SetInterest(ft, poller.Readable|poller.Writable) }
	mustWrite(t, peer, "x")
	dispatchUntil(t, l, func() bool { return len(ft.finalized) > 0 }, "Finalize")
	if len(reported) != 1 || !errors.Is(reported[0], unix.ENOMEM) || !errors.Is(ft.finalized[0], unix.ENOMEM) {
		t.Fatalf("reported %v, finalized %v; want the poller's ENOMEM in both", reported, ft.finalized)
	}
	if l.Handle(ft) != nil {
		t.Fatal("the target is still registered")
	}
}

// A panic in a function run with Call is a panic in one of the target's
// callbacks: reported, and the target is given up.
func TestPanicInCallGivesTheTargetUp(t *testing.T) {
	var reported []error
	l := newTestLoop(t, func(_ Target, err error) { reported = append(reported, err) })
	ft, peer := registerReleasingTarget(t, l)
	l.Handle(ft).Call(func(Target) { panic("in Call") })
	var pe *PanicError
	if len(reported) != 1 || !errors.As(reported[0], &pe) || len(ft.finalized) != 1 || !errors.As(ft.finalized[0], &pe) {
		t.Fatalf("reported %v, finalized %v; want the *PanicError in both", reported, ft.finalized)
	}
	if l.Handle(ft) != nil || !peerSeesClose(t, peer) {
		t.Fatal("the target is still registered, or its fd open")
	}
}

// Attach with a Registration the target embeds allocates nothing: registering a
// conn costs no allocation of the loop's.
func TestAttachWithAnEmbeddedRegistrationAllocatesNothing(t *testing.T) {
	l := newTestLoop(t, nil)
	type embedded struct {
		recTarget
		reg Registration
	}
	fd, peer := socketpair(t)
	closeAtEnd(t, peer)
	closeAtEnd(t, fd)
	target := &embedded{recTarget: recTarget{fd: fd}}
	cycle := func() {
		target.reg = Registration{} // given up: a fresh one, as a new conn has
		if err := l.Attach(&target.reg, target, poller.Readable); err != nil {
			t.Fatal(err)
		}
		if err := target.reg.Unregister(); err != nil {
			t.Fatal(err)
		}
	}
	cycle() // grows the fd table once
	if allocs := testing.AllocsPerRun(100, cycle); allocs != 0 {
		t.Fatalf("%.1f allocations per Attach and Unregister, want 0", allocs)
	}
}

// registerReleasingTarget registers, for reading, one end of a new socketpair as
// a finalTarget whose Finalize releases it, and returns it with the peer end.
func registerReleasingTarget(t *testing.T, l *Loop) (*finalTarget, int) {
	t.Helper()
	fd, peer := socketpair(t)
	closeAtEnd(t, peer)
	ft := &finalTarget{recTarget: recTarget{fd: fd}}
	ft.finalize = func(error) { l.Release(ft) }
	if err := l.Register(ft, poller.Readable); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	return ft, peer
}
