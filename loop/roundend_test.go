package loop

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/poller"
)

// roundEnder is a registered target (an fd number the test never opens, kept out
// of the poller with interest 0) that records its OnRoundEnd calls in a shared
// log.
type roundEnder struct {
	recTarget
	reg   *Registration
	name  string
	log   *[]string
	onEnd func()
}

func (r *roundEnder) OnRoundEnd() {
	*r.log = append(*r.log, r.name)
	if r.onEnd != nil {
		r.onEnd()
	}
}

// fakeFds hands out fd numbers far above any this test process opens, for
// targets that are registered but never reach the poller.
var fakeFds = 4000

// newRoundEnder registers a roundEnder on l; it is unregistered (its fake fd is
// never closed) when the test ends, before the loop closes.
func newRoundEnder(t testing.TB, l *Loop, name string, log *[]string) *roundEnder {
	t.Helper()
	fakeFds++
	r := &roundEnder{recTarget: recTarget{fd: fakeFds}, name: name, log: log}
	if err := l.Register(r, 0); err != nil {
		t.Fatalf("Register: %v", err)
	}
	r.reg = l.Handle(r)
	t.Cleanup(func() { l.Unregister(r) })
	return r
}

func TestAtRoundEndRunsOnceAfterTimersAndTasks(t *testing.T) {
	l := newTestLoop(t, nil)
	var log []string
	r := newRoundEnder(t, l, "round end", &log)
	l.Submit(func() {
		log = append(log, "task")
		r.reg.AtRoundEnd()
		r.reg.AtRoundEnd() // asking twice before it ran still means one call
	})
	l.AfterFunc(0, func() { log = append(log, "timer") })
	dispatchRounds(t, l, 1)
	if want := []string{"timer", "task", "round end"}; !slices.Equal(log, want) {
		t.Fatalf("round ran %v, want %v", log, want)
	}
	dispatchRounds(t, l, 3)
	if len(log) != 3 {
		t.Fatalf("OnRoundEnd ran again in later rounds: %v", log)
	}
}

func TestAtRoundEndOutsideARoundRunsInTheNextWithoutBlocking(t *testing.T) {
	l := newTestLoop(t, nil)
	var log []string
	newRoundEnder(t, l, "round end", &log).reg.AtRoundEnd()
	start := time.Now()
	if err := l.DispatchOnce(waitFor); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > waitFor/2 {
		t.Fatalf("a round with a pending OnRoundEnd blocked for %v", took)
	}
	if len(log) != 1 {
		t.Fatalf("OnRoundEnd calls %v, want one", log)
	}
}

// An OnRoundEnd that asks again is called in the next round, not the same one, so
// it cannot hold the loop in one round.
func TestAtRoundEndFromOnRoundEndWaitsForTheNextRound(t *testing.T) {
	l := newTestLoop(t, nil)
	var log []string
	r := newRoundEnder(t, l, "end", &log)
	r.onEnd = func() {
		if !r.reg.InCallback() {
			t.Error("InCallback is false inside OnRoundEnd")
		}
		if len(log) < 1000 { // bound the damage if it does loop
			r.reg.AtRoundEnd()
		}
	}
	r.reg.AtRoundEnd()
	dispatchRounds(t, l, 3)
	if len(log) != 3 {
		t.Fatalf("OnRoundEnd ran %d times in 3 rounds, want 3", len(log))
	}
}

func TestAtRoundEndOfAReleasedTargetIsNotCalled(t *testing.T) {
	l := newTestLoop(t, nil)
	var log []string
	gone := newRoundEnder(t, l, "gone", &log)
	kept := newRoundEnder(t, l, "kept", &log)
	gone.reg.AtRoundEnd()
	kept.reg.AtRoundEnd()
	if err := gone.reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	gone.reg.AtRoundEnd() // unregistered: ignored
	dispatchRounds(t, l, 2)
	if !slices.Equal(log, []string{"kept"}) {
		t.Fatalf("round-end calls %v, want only the registered target's", log)
	}
}

// A panic in OnRoundEnd is a panic in one of the target's callbacks: it is
// reported with the target and gives the target up, as a panic in HandleEvent
// does, and the round-end calls after it still run.
func TestOnRoundEndPanicGivesTheTargetUp(t *testing.T) {
	var targets []Target
	l := newTestLoop(t, func(tg Target, err error) {
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Errorf("OnError got %v, want a *PanicError", err)
		}
		targets = append(targets, tg)
	})
	var log []string
	panicky := newRoundEnder(t, l, "panicky", &log)
	panicky.onEnd = func() { panic("round end") }
	after := newRoundEnder(t, l, "after", &log)
	panicky.reg.AtRoundEnd()
	after.reg.AtRoundEnd()
	dispatchRounds(t, l, 1)
	if len(targets) != 1 || targets[0] != Target(panicky) {
		t.Fatalf("OnError targets %v, want [the panicking target]", targets)
	}
	if panicky.reg.Registered() || l.Handle(panicky) != nil {
		t.Fatal("the target whose OnRoundEnd panicked is still registered")
	}
	if !slices.Equal(log, []string{"panicky", "after"}) {
		t.Fatalf("round-end calls %v: the one after the panic did not run", log)
	}
}

// A target released while the batch is dispatched keeps its fd until the whole
// batch has been (TestCloseDuringBatchDoesNotReachNewFD pins that half), and no
// longer: by the time timers, tasks and round-end calls run, the fd is closed, so
// a listener closed from a task really stops accepting when the task returns.
func TestReleasedFdIsClosedOnceTheBatchIsDispatched(t *testing.T) {
	l := newTestLoop(t, nil)
	rt, peer := registerPair(t, l, poller.Readable)
	closedAtEnd := false
	var log []string
	end := newRoundEnder(t, l, "end", &log)
	end.onEnd = func() { closedAtEnd = peerSeesClose(t, peer) }
	rt.handle = func(poller.Event) {
		l.Release(rt)
		if !fdOpen(rt.fd) {
			t.Error("the fd was closed while its batch was still being dispatched")
		}
		end.reg.AtRoundEnd()
	}
	mustWrite(t, peer, "x")
	dispatchUntil(t, l, func() bool { return len(log) > 0 }, "the round end")
	if !closedAtEnd {
		t.Fatal("the released fd was still open at the round-end calls")
	}
}

// Released outside event dispatch (from a task), the fd is closed at once.
func TestReleaseFromTaskClosesAtOnce(t *testing.T) {
	l := newTestLoop(t, nil)
	rt, peer := registerPair(t, l, poller.Readable)
	closed := false
	l.Submit(func() {
		l.Release(rt)
		closed = peerSeesClose(t, peer)
	})
	dispatchRounds(t, l, 1)
	if !closed {
		t.Fatal("Release from a task left the fd open after it returned")
	}
}

func TestRunningIsTrueOnlyWhileRunDrivesTheLoop(t *testing.T) {
	l := newTestLoop(t, nil)
	if l.Running() {
		t.Fatal("Running before Run = true")
	}
	dispatchRounds(t, l, 1)
	if l.Running() {
		t.Fatal("Running while driven by hand = true")
	}
	result := startRun(t, l, context.Background())
	running := false
	submitAndWait(t, l, func() { running = l.Running() })
	if !running || !l.Running() {
		t.Fatal("Running while Run drives the loop = false")
	}
	l.Stop()
	if err := testutil.Recv(t, result, waitFor, "Run to return"); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if l.Running() {
		t.Fatal("Running after Run returned = true")
	}
}
