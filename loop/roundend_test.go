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

// roundEnder records its OnRoundEnd calls into a shared log.
type roundEnder struct {
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

// roundEndTarget is a Target that is also a RoundEnder.
type roundEndTarget struct {
	recTarget
	onEnd func()
}

func (r *roundEndTarget) OnRoundEnd() { r.onEnd() }

func TestAtRoundEndRunsOnceAfterTimersAndTasks(t *testing.T) {
	l := newTestLoop(t, nil)
	var log []string
	r := &roundEnder{name: "round end", log: &log}
	l.Submit(func() {
		log = append(log, "task")
		l.AtRoundEnd(r)
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
	l.AtRoundEnd(&roundEnder{name: "round end", log: &log})
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
	r := &roundEnder{name: "end", log: &log}
	r.onEnd = func() {
		if len(log) < 1000 { // bound the damage if it does loop
			l.AtRoundEnd(r)
		}
	}
	l.AtRoundEnd(r)
	dispatchRounds(t, l, 3)
	if len(log) != 3 {
		t.Fatalf("OnRoundEnd ran %d times in 3 rounds, want 3", len(log))
	}
}

func TestOnRoundEndPanicIsReportedWithItsTarget(t *testing.T) {
	var targets []Target
	l := newTestLoop(t, func(tg Target, err error) {
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Errorf("OnError got %v, want a *PanicError", err)
		}
		targets = append(targets, tg)
	})
	var log []string
	tg := &roundEndTarget{recTarget: recTarget{fd: 1000}, onEnd: func() { panic("target") }}
	l.AtRoundEnd(tg)
	l.AtRoundEnd(&roundEnder{name: "plain", log: &log, onEnd: func() { panic("plain") }})
	l.AtRoundEnd(&roundEnder{name: "after", log: &log})
	dispatchRounds(t, l, 1)
	if len(targets) != 2 || targets[0] != Target(tg) || targets[1] != nil {
		t.Fatalf("OnError targets %v, want [the target, nil]", targets)
	}
	if !slices.Equal(log, []string{"plain", "after"}) {
		t.Fatalf("round-end calls %v: the one after the panics did not run", log)
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
	rt.handle = func(poller.Event) {
		l.Release(rt)
		if !fdOpen(rt.fd) {
			t.Error("the fd was closed while its batch was still being dispatched")
		}
		l.AtRoundEnd(&roundEnder{name: "end", log: &log, onEnd: func() { closedAtEnd = peerSeesClose(t, peer) }})
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
