package loop

import (
	"context"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/poller"
)

// A spinning loop must still see everything a sleeping one sees: events that
// arrive during the spin, tasks submitted during it (their wakeup is drained by
// the non-blocking polls), timers due before the spin would end, and Stop.
func TestSpinWaitMissesNoEventTaskTimerOrStop(t *testing.T) {
	l, err := New(Config{CPU: NoPin, SpinWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	a, b := socketpair(t)
	closeAtEnd(t, b)
	got := make(chan poller.Event, 16)
	if err := l.Register(&recTarget{fd: a, handle: func(ev poller.Event) {
		got <- ev
		drain(a)
	}}, poller.Readable); err != nil {
		t.Fatal(err)
	}
	result := startRun(t, l, context.Background())
	for i := 0; i < 20; i++ { // each lands while the loop spins or sleeps
		mustWrite(t, b, "x")
		testutil.Recv(t, got, waitFor, "a readable event")
		submitAndWait(t, l, func() {})
		fired := make(chan struct{})
		submitAndWait(t, l, func() { l.AfterFunc(time.Millisecond, func() { close(fired) }) })
		testutil.Recv(t, fired, waitFor, "a 1 ms timer")
	}
	l.Stop()
	if err := testutil.Recv(t, result, waitFor, "Run after Stop"); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
