package loop

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/poller"
)

// RELIABILITY row 1 at loop level. Two targets are readable in the same batch;
// the first handler releases the other and opens a new socket. Had the released fd
// been closed at once, the new socket could take its number and the stale event
// still in the batch would reach it. The loop closes released fds only at the end
// of the round, so the number cannot be reused and the stale event is dropped.
func TestCloseDuringBatchDoesNotReachNewFD(t *testing.T) {
	l := newTestLoop(t, nil)
	a, peerA := registerPair(t, l, poller.Readable)
	b, peerB := registerPair(t, l, poller.Readable)

	// Fill every free fd number below the pair's, so that the lowest free number
	// once the released fd is closed is that fd's own: a new socket would take it.
	var fillers []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fd > max(a.fd, b.fd) {
			unix.Close(fd)
			break
		}
		fillers = append(fillers, fd)
	}
	defer func() {
		for _, fd := range fillers {
			unix.Close(fd)
		}
	}()

	var released, newcomer *recTarget
	var releasedPeer int
	releasedStillOpen := false
	// Whichever handler runs first plays the part of the first client.
	first := func(other *recTarget, otherPeer int) func(poller.Event) {
		return func(poller.Event) {
			if released != nil {
				return
			}
			released, releasedPeer = other, otherPeer
			if err := l.Release(other); err != nil {
				t.Errorf("Release: %v", err)
				return
			}
			// Not closed yet: the peer sees no close and the number is still taken.
			releasedStillOpen = fdOpen(other.fd) && !peerSeesClose(t, otherPeer)
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Errorf("socket: %v", err)
				return
			}
			newcomer = &recTarget{fd: fd}
			if err := l.Register(newcomer, poller.Readable); err != nil {
				t.Errorf("Register new socket: %v", err)
				unix.Close(fd)
				newcomer = nil
			}
		}
	}
	a.handle, b.handle = first(b, peerB), first(a, peerA)
	mustWrite(t, peerA, "x")
	mustWrite(t, peerB, "x")

	events := l.Stats().Events
	if err := l.DispatchOnce(waitFor); err != nil {
		t.Fatal(err)
	}
	if got := l.Stats().Events - events; got != 2 {
		t.Fatalf("the round saw %d events, want both in one batch", got)
	}
	if released == nil || newcomer == nil {
		t.Fatal("the first handler did not release the other target and open a new socket")
	}
	defer l.Release(newcomer)
	if !releasedStillOpen {
		t.Error("the released fd was closed inside the round")
	}
	if newcomer.fd == released.fd {
		t.Errorf("the new socket reused fd %d inside the round", released.fd)
	}
	if len(released.events) != 0 {
		t.Errorf("the released target got %d events after its release in the batch", len(released.events))
	}
	if len(newcomer.events) != 0 {
		t.Errorf("the new socket got a stale event: %v", newcomer.events)
	}
	// After the round the released fd is closed, and its peer sees that.
	if !peerSeesClose(t, releasedPeer) {
		t.Error("the released fd is still open after the round")
	}
}

func TestHandlerPanicIsReportedAndClosesOnlyThatTarget(t *testing.T) {
	type report struct {
		t   Target
		err error
	}
	var reports []report
	l := newTestLoop(t, func(tg Target, err error) { reports = append(reports, report{tg, err}) })
	bad, badPeer := registerPair(t, l, poller.Readable)
	good, goodPeer := registerPair(t, l, poller.Readable)
	bad.handle = func(poller.Event) { panic("boom") }
	mustWrite(t, badPeer, "x")
	mustWrite(t, goodPeer, "x") // never read: readable on every round

	dispatchUntil(t, l, func() bool { return len(bad.events) > 0 && len(good.events) > 0 }, "both targets' events")
	if len(reports) != 1 || reports[0].t != Target(bad) {
		t.Fatalf("OnError calls %v, want one for the panicking target", reports)
	}
	var pe *PanicError
	if !errors.As(reports[0].err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Fatalf("OnError got %v, want a *PanicError with value boom and a stack", reports[0].err)
	}
	if err := l.SetInterest(bad, poller.Readable); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("SetInterest on the panicked target = %v, want ErrNotRegistered", err)
	}
	if !peerSeesClose(t, badPeer) {
		t.Fatal("the panicked target's fd is still open after the round")
	}
	n := len(good.events)
	dispatchUntil(t, l, func() bool { return len(good.events) >= n+3 }, "more events for the other target")
	if len(bad.events) != 1 || len(reports) != 1 {
		t.Fatalf("panicked target: %d events, %d reports; want 1, 1", len(bad.events), len(reports))
	}
	if got := l.Stats().Targets; got != 1 {
		t.Fatalf("Stats().Targets = %d, want 1", got)
	}
}

func TestHandlerPanicGoesToFinalizerInsteadOfClose(t *testing.T) {
	var reported []error
	l := newTestLoop(t, func(_ Target, err error) { reported = append(reported, err) })
	fd, peer := socketpair(t)
	closeAtEnd(t, peer)
	ft := &finalTarget{recTarget: recTarget{fd: fd}}
	ft.handle = func(poller.Event) { panic("boom") }
	ft.finalize = func(error) {
		if err := l.Unregister(ft); err != nil { // keeps the fd, to close it itself
			t.Errorf("Unregister in Finalize: %v", err)
		}
	}
	if err := l.Register(ft, poller.Readable); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, peer, "x")
	dispatchUntil(t, l, func() bool { return len(ft.events) > 0 }, "the event")
	var pe *PanicError
	if len(ft.finalized) != 1 || !errors.As(ft.finalized[0], &pe) || pe.Value != "boom" {
		t.Fatalf("Finalize got %v, want one *PanicError", ft.finalized)
	}
	if len(reported) != 1 {
		t.Fatalf("OnError called %d times, want 1", len(reported))
	}
	if !fdOpen(fd) || peerSeesClose(t, peer) {
		t.Fatal("the loop closed the fd of a target whose Finalize kept it")
	}
	if got := l.Stats().Targets; got != 0 {
		t.Fatalf("Stats().Targets = %d, want 0", got)
	}
	unix.Close(fd)
}

func TestTaskAndTimerPanicsAreReportedWithNilTarget(t *testing.T) {
	var targets []Target
	var values []any
	l := newTestLoop(t, func(tg Target, err error) {
		var pe *PanicError
		if errors.As(err, &pe) {
			values = append(values, pe.Value)
		}
		targets = append(targets, tg)
	})
	after := false
	l.Submit(func() { panic("task") })
	l.AfterFunc(0, func() { panic("timer") })
	l.Submit(func() { after = true })
	dispatchRounds(t, l, 1)
	if len(targets) != 2 || targets[0] != nil || targets[1] != nil {
		t.Fatalf("OnError targets %v, want two nil", targets)
	}
	if len(values) != 2 || values[0] != "timer" || values[1] != "task" {
		t.Fatalf("panic values %v, want [timer task] (timers run before tasks)", values)
	}
	if !after {
		t.Fatal("the task after the panicking one did not run")
	}
}

func TestRunSurvivesPanickingTasksAndTimers(t *testing.T) {
	panics := make(chan error, 2)
	l := newTestLoop(t, func(tg Target, err error) {
		if tg != nil {
			t.Errorf("OnError target %v, want nil", tg)
		}
		panics <- err
	})
	startRun(t, l, context.Background())
	l.Submit(func() { panic("task") })
	testutil.Recv(t, panics, waitFor, "the task panic")
	l.Submit(func() { l.AfterFunc(0, func() { panic("timer") }) })
	testutil.Recv(t, panics, waitFor, "the timer panic")
	submitAndWait(t, l, func() {}) // the loop is still running
}

func TestRunReturnsNilAfterStop(t *testing.T) {
	l := newTestLoop(t, nil)
	result := startRun(t, l, context.Background())
	submitAndWait(t, l, func() {})
	l.Stop()
	l.Stop() // a second Stop does nothing
	if err := testutil.Recv(t, result, waitFor, "Run to return"); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestStopFromInsideATaskEndsRun(t *testing.T) {
	l := newTestLoop(t, nil)
	result := startRun(t, l, context.Background())
	l.Submit(l.Stop)
	if err := testutil.Recv(t, result, waitFor, "Run to return"); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestRunReturnsContextErrorAfterCancel(t *testing.T) {
	l := newTestLoop(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	result := startRun(t, l, ctx)
	submitAndWait(t, l, func() {})
	cancel()
	if err := testutil.Recv(t, result, waitFor, "Run to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if err := l.Submit(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after the context ended = %v, want ErrClosed", err)
	}
}

func TestSecondConcurrentRunReturnsErrRunning(t *testing.T) {
	l := newTestLoop(t, nil)
	startRun(t, l, context.Background())
	submitAndWait(t, l, func() {})
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	if err := testutil.Recv(t, done, waitFor, "the second Run"); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	submitAndWait(t, l, func() {}) // the first is still running
}

func TestCloseTwiceReturnsErrClosed(t *testing.T) {
	l := newTestLoop(t, nil)
	if err := l.Close(); err != nil {
		t.Fatalf("first Close = %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

func TestRunAfterCloseReturnsErrClosed(t *testing.T) {
	l := newTestLoop(t, nil)
	l.Close()
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	if err := testutil.Recv(t, done, waitFor, "Run"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close = %v, want ErrClosed", err)
	}
	if err := l.DispatchOnce(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("DispatchOnce after Close = %v, want ErrClosed", err)
	}
}

func TestCloseStopsRunAndWaitsForIt(t *testing.T) {
	l := newTestLoop(t, nil)
	result := startRun(t, l, context.Background())
	started, release := make(chan struct{}), make(chan struct{})
	var taskDone atomic.Bool
	l.Submit(func() {
		close(started)
		<-release
		taskDone.Store(true)
	})
	testutil.Recv(t, started, waitFor, "the blocking task to start")

	closed := make(chan error, 1)
	go func() {
		err := l.Close()
		if !taskDone.Load() || l.Running() {
			err = errors.New("Close returned while Run was still in a round")
		}
		closed <- err
	}()
	// Once Submit fails, Close has called Stop and is waiting for Run.
	testutil.Eventually(t, waitFor, func() bool { return l.Submit(func() {}) != nil }, "Close to stop the loop")
	close(release)
	if err := testutil.Recv(t, closed, waitFor, "Close"); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Recv(t, result, waitFor, "Run's result"); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestCloseFinalizesRegisteredTargetsAndClosesOthers(t *testing.T) {
	l := newTestLoop(t, nil)
	_, plainPeer := registerPair(t, l, poller.Readable)
	fd, finPeer := socketpair(t)
	closeAtEnd(t, finPeer)
	releasing := &finalTarget{recTarget: recTarget{fd: fd}}
	releasing.finalize = func(error) { l.Release(releasing) }
	if err := l.Register(releasing, poller.Readable); err != nil {
		t.Fatal(err)
	}
	fd2, idlePeer := socketpair(t)
	closeAtEnd(t, idlePeer)
	idle := &finalTarget{recTarget: recTarget{fd: fd2}} // Finalize forgets to release
	if err := l.Register(idle, poller.Readable); err != nil {
		t.Fatal(err)
	}

	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, ft := range map[string]*finalTarget{"releasing": releasing, "idle": idle} {
		if len(ft.finalized) != 1 || !errors.Is(ft.finalized[0], ErrClosed) {
			t.Errorf("%s: Finalize got %v, want one ErrClosed", name, ft.finalized)
		}
	}
	for name, peer := range map[string]int{"plain": plainPeer, "releasing": finPeer, "idle": idlePeer} {
		if !peerSeesClose(t, peer) {
			t.Errorf("%s target's fd is still open after Close", name)
		}
	}
	if got := l.Stats().Targets; got != 0 {
		t.Errorf("Stats().Targets = %d after Close, want 0", got)
	}
}

func TestInLoopIsTrueInTasksAndFalseElsewhere(t *testing.T) {
	l := newTestLoop(t, nil)
	if l.InLoop() {
		t.Fatal("InLoop before Run = true")
	}
	startRun(t, l, context.Background())
	inLoop := false
	submitAndWait(t, l, func() { inLoop = l.InLoop() })
	if !inLoop {
		t.Fatal("InLoop inside a task = false")
	}
	if l.InLoop() {
		t.Fatal("InLoop from the test goroutine = true")
	}
	other := make(chan bool)
	go func() { other <- l.InLoop() }()
	if testutil.Recv(t, other, waitFor, "InLoop from another goroutine") {
		t.Fatal("InLoop from another goroutine = true")
	}
}

func TestNewRejectsCPUBelowNoPin(t *testing.T) {
	for _, cpu := range []int{-2, -100} {
		if l, err := New(Config{CPU: cpu}); err == nil {
			l.Close()
			t.Fatalf("New(Config{CPU: %d}) = nil error", cpu)
		}
	}
}

// Filter is a target callback like HandleEvent: a panic in it must reach OnError
// and give the target up, not unwind DispatchOnce (and with it Run).
func TestFilterPanicIsReportedAndLoopLivesOn(t *testing.T) {
	var reported []error
	l := newTestLoop(t, func(_ Target, err error) { reported = append(reported, err) })
	fd, peer := socketpair(t)
	closeAtEnd(t, peer)
	ft := &filterTarget{recTarget: recTarget{fd: fd}, filter: func(int) poller.Interest { panic("filter") }}
	if err := l.Register(ft, poller.Readable); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, peer, "x")
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("DispatchOnce panicked: %v", r)
			}
		}()
		dispatchUntil(t, l, func() bool { return len(ft.events) > 0 }, "the event")
	}()
	var pe *PanicError
	if len(reported) != 1 || !errors.As(reported[0], &pe) {
		t.Fatalf("OnError got %v, want one *PanicError", reported)
	}
	if l.Stats().Targets != 0 || !peerSeesClose(t, peer) {
		t.Fatal("the target whose Filter panicked is still registered or open")
	}
	ran := false
	l.AfterFunc(0, func() { ran = true })
	dispatchUntil(t, l, func() bool { return ran }, "a timer after the panic")
}
