package poller_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/poller"
)

// Park needs a duplicate of the poller's fd. A process out of fds cannot make
// one: Park then waits the blocking way, with Wait's contract, instead of
// failing (a loop whose wait failed would stop).
func TestParkWithoutAnFdToDuplicateWaitsInstead(t *testing.T) {
	defer sys.Swap(&sys.Dup, func(int) (int, error) { return -1, unix.EMFILE })()
	p := newPoller(t)
	sp := socketPair(t)
	if err := p.Add(sp[0], poller.Readable); err != nil {
		t.Fatal(err)
	}
	events := make([]poller.Event, 4)
	start := time.Now()
	if n, err := p.Park(events, 20*time.Millisecond); n != 0 || err != nil || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("Park with nothing ready and no fd to spare = (%d, %v) after %v; want (0, nil) after the timeout", n, err, time.Since(start))
	}
	writeByte(t, sp[1])
	if n, err := p.Park(events, -1); n != 1 || err != nil || events[0].Fd != sp[0] {
		t.Fatalf("Park with a readable fd and no fd to spare = (%d, %v) %v; want the fd", n, err, events[:n])
	}
}
