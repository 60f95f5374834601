//go:build linux

package transport_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// asyncTally counts what a storm of AsyncWrites got: bytes accepted, bytes
// written (done(nil)), and the errors the others were refused or failed with.
type asyncTally struct {
	accepted, written atomic.Int64
	callbacks         sync.WaitGroup
	mu                sync.Mutex
	failed            map[error]int
}

func newAsyncTally() *asyncTally { return &asyncTally{failed: map[error]int{}} }

// write makes one AsyncWrite of p and reports the error it returned.
func (a *asyncTally) write(c *transport.Conn, p []byte) error {
	a.callbacks.Add(1)
	err := c.AsyncWrite(p, func(err error) {
		defer a.callbacks.Done()
		if err == nil {
			a.written.Add(int64(len(p)))
			return
		}
		a.mu.Lock()
		a.failed[err]++
		a.mu.Unlock()
	})
	if err == nil {
		a.accepted.Add(int64(len(p)))
	}
	return err
}

func (a *asyncTally) wait(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { a.callbacks.Wait(); close(done) }()
	testutil.Recv(t, done, waitFor, "every AsyncWrite callback")
}

func (a *asyncTally) failures(err error) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failed[err]
}

// A peer that never reads: AsyncWrites from a publisher go on until what the conn
// owes passes MaxQueued; then the conn is closed with ErrSlowConsumer, which its
// OnClose, every waiting callback and every later AsyncWrite get.
func TestMaxQueuedClosesAConnWhosePeerDoesNotRead(t *testing.T) {
	const limit = 256 << 10
	l := startLoop(t, logLoopErrors(t))
	h := newRecordingHandler()
	c, _ := adoptedSocketpair(t, l, h, transport.Config{MaxQueued: limit})
	tally, msg := newAsyncTally(), make([]byte, 1<<10)
	var refusal error
	for i := 0; i < 1<<20 && refusal == nil; i++ {
		refusal = tally.write(c, msg)
	}
	if refusal != transport.ErrSlowConsumer {
		t.Fatalf("AsyncWrite never refused (last error %v) after %d bytes accepted", refusal, tally.accepted.Load())
	}
	closed := h.waitClosed(t)
	if closed.c != c || !errors.Is(closed.err, transport.ErrSlowConsumer) {
		t.Errorf("OnClose(%v), want ErrSlowConsumer", closed.err)
	}
	tally.wait(t)
	if err := tally.write(c, msg); err != transport.ErrSlowConsumer {
		t.Errorf("AsyncWrite after the close = %v, want ErrSlowConsumer", err)
	}
	tally.wait(t)
	// What was accepted and not written is what the conn owed: at most the limit.
	if owed := tally.accepted.Load() - tally.written.Load(); owed > limit {
		t.Errorf("%d bytes accepted and never written, want at most MaxQueued (%d)", owed, limit)
	}
	if got, want := int64(tally.failures(transport.ErrSlowConsumer)), (tally.accepted.Load()-tally.written.Load())/int64(len(msg))+2; got != want {
		t.Errorf("%d callbacks got ErrSlowConsumer, want %d (the unwritten accepted ones and the two refused)", got, want)
	}
	if p := c.Pending(); p != 0 {
		t.Errorf("Pending() = %d after the close, want 0", p)
	}
	if h.closeCount(c) != 1 {
		t.Errorf("OnClose ran %d times", h.closeCount(c))
	}
}

// An AsyncWrite storm from ten goroutines at a conn that never reads stays
// bounded: each goroutine is refused soon after the conn passes its limit, and
// the heap never holds more than a few limits' worth (an unbounded queue grew by
// gigabytes in a second).
func TestAsyncWriteStormAtANonReadingConnStaysBounded(t *testing.T) {
	const limit, writers = 1 << 20, 10
	l := startLoop(t, logLoopErrors(t))
	h := newRecordingHandler()
	c, _ := adoptedSocketpair(t, l, h, transport.Config{MaxQueued: limit})
	heapPeak := testutil.HeapPeak()
	tally, msg := newAsyncTally(), make([]byte, 1<<10)
	var calls atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for calls.Inc() < 1<<24 {
				if err := tally.write(c, msg); err != nil {
					return
				}
			}
		}()
	}
	stormDone := make(chan struct{})
	go func() { wg.Wait(); close(stormDone) }()
	testutil.Recv(t, stormDone, waitFor, "every writer refused")
	grew := heapPeak()
	tally.wait(t)
	if err := h.waitClosed(t).err; !errors.Is(err, transport.ErrSlowConsumer) {
		t.Errorf("OnClose(%v), want ErrSlowConsumer", err)
	}
	if owed := tally.accepted.Load() - tally.written.Load(); owed > limit {
		t.Errorf("%d bytes accepted and never written, want at most MaxQueued (%d)", owed, limit)
	}
	if grew > 32*limit {
		t.Errorf("the heap grew by %d MiB during the storm, want under %d MiB", grew>>20, 32*limit>>20)
	}
	t.Logf("%d calls, %d KiB accepted, %d KiB written, heap peak +%d KiB",
		calls.Load(), tally.accepted.Load()>>10, tally.written.Load()>>10, grew>>10)
}

// The soft limit closes a conn that owes more than SoftMaxQueued for
// SoftMaxQueuedFor, and not before.
func TestSoftMaxQueuedClosesAfterItsGrace(t *testing.T) {
	const grace = 200 * time.Millisecond
	l := startLoop(t, logLoopErrors(t))
	h := newRecordingHandler()
	cfg := transport.Config{SoftMaxQueued: 64 << 10, SoftMaxQueuedFor: grace}
	c, _ := adoptedSocketpair(t, l, h, cfg)
	big := make([]byte, 4<<20) // far more than the socket buffers take
	start := time.Now()
	onLoop(t, l, func() { c.Write(big) })
	closed := h.waitClosed(t)
	if !errors.Is(closed.err, transport.ErrSlowConsumer) {
		t.Errorf("OnClose(%v), want ErrSlowConsumer", closed.err)
	}
	if took := time.Since(start); took < grace {
		t.Errorf("closed after %v, before the grace of %v", took, grace)
	}
}

// A peer that falls behind the soft limit and catches up within the grace is
// not closed: the clock starts again each time the output goes above the limit.
func TestSoftMaxQueuedSparesAPeerThatCatchesUp(t *testing.T) {
	const grace = 300 * time.Millisecond
	l := startLoop(t, logLoopErrors(t))
	h := newRecordingHandler()
	c, peer := adoptedSocketpair(t, l, h, transport.Config{SoftMaxQueued: 64 << 10, SoftMaxQueuedFor: grace})
	burst := make([]byte, 2<<20)
	for range 2 {
		onLoop(t, l, func() { c.Write(burst) })
		peer.SetReadDeadline(time.Now().Add(waitFor))
		if _, err := ioReadFull(peer, len(burst)); err != nil {
			t.Fatalf("reading the burst: %v", err)
		}
		testutil.Eventually(t, waitFor, func() bool { return c.Pending() == 0 }, "the queue drained")
	}
	// Past the grace since the last burst went above the limit, the conn is open.
	time.Sleep(grace + 100*time.Millisecond)
	var state transport.State
	onLoop(t, l, func() { state = c.State() })
	if state != transport.Open {
		t.Errorf("state %v after catching up, want open (OnClose: %v)", state, h.closed)
	}
}

// A handler's own reply larger than MaxQueued does not close the conn when the
// kernel takes it: only what is left queued after the flush counts.
func TestMaxQueuedCountsOnlyWhatTheKernelDoesNotTake(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	h := newRecordingHandler()
	c, peer := adoptedSocketpair(t, l, h, transport.Config{MaxQueued: 16 << 10})
	reply := make([]byte, 64<<10) // within a socketpair's buffer, above the limit
	onLoop(t, l, func() { c.Write(reply) })
	peer.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := ioReadFull(peer, len(reply)); err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	var state transport.State
	onLoop(t, l, func() { state = c.State() })
	if state != transport.Open {
		t.Errorf("state %v after a reply the kernel took, want open", state)
	}
}

// Pending, safe from any goroutine, counts AsyncWrites from the moment they are
// made and the queue until the kernel takes it.
func TestPendingCountsAsyncWritesAndTheQueue(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	h := newRecordingHandler()
	c, _ := adoptedSocketpair(t, l, h, transport.Config{HighWater: -1})
	// Fill the socket's buffers first, so the kernel takes nothing more.
	onLoop(t, l, func() { c.Write(make([]byte, 8<<20)) })
	testutil.Eventually(t, waitFor, func() bool {
		var q int
		onLoop(t, l, func() { q = c.Queued() })
		return q == c.Pending() && q < 8<<20
	}, "the kernel took what it could")
	before := c.Pending()
	block := make(chan struct{})
	onLoopAsync(l, func() { <-block }) // hold the loop, so the AsyncWrites stay in flight
	for range 10 {
		c.AsyncWrite(make([]byte, 1000), nil)
	}
	if got := c.Pending(); got != before+10*1000 {
		t.Errorf("Pending() = %d with ten 1000-byte AsyncWrites in flight, want %d", got, before+10*1000)
	}
	close(block)
	var queued int
	onLoop(t, l, func() { queued = c.Queued() })
	if queued != c.Pending() {
		t.Errorf("Queued() = %d, Pending() = %d once the AsyncWrites are queued; want equal", queued, c.Pending())
	}
}

// A Config whose limits contradict each other is refused with a clear error.
func TestConfigValidateRefusesContradictoryLimits(t *testing.T) {
	for _, tc := range []struct {
		cfg  transport.Config
		want string
	}{
		{transport.Config{MaxQueued: -1}, "MaxQueued -1"},
		{transport.Config{SoftMaxQueued: -1, SoftMaxQueuedFor: time.Second}, "SoftMaxQueued -1"},
		{transport.Config{SoftMaxQueued: 1 << 20}, "needs a positive SoftMaxQueuedFor"},
		{transport.Config{SoftMaxQueuedFor: time.Second}, "without SoftMaxQueued"},
		{transport.Config{MaxQueued: 1 << 20, SoftMaxQueued: 2 << 20, SoftMaxQueuedFor: time.Second}, "not below MaxQueued"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Validate() = %v, want an error saying %q", tc.cfg, err, tc.want)
		}
	}
	ok := transport.Config{MaxQueued: 32 << 20, SoftMaxQueued: 8 << 20, SoftMaxQueuedFor: time.Minute}
	if err := ok.Validate(); err != nil {
		t.Errorf("Redis's pubsub limits: Validate() = %v", err)
	}
	l := startLoop(t, logLoopErrors(t))
	var err error
	onLoop(t, l, func() { _, err = transport.Adopt(l, 0, newRecordingHandler(), transport.Config{MaxQueued: -1}) })
	if err == nil || !strings.Contains(err.Error(), "MaxQueued") {
		t.Errorf("Adopt with MaxQueued -1 = %v, want the Validate error", err)
	}
}

// ioReadFull reads n bytes from c.
func ioReadFull(c net.Conn, n int) ([]byte, error) {
	p := make([]byte, n)
	_, err := io.ReadFull(c, p)
	return p, err
}

// onLoopAsync runs f on l without waiting for it.
func onLoopAsync(l *loop.Loop, f func()) {
	if err := l.Submit(f); err != nil {
		panic(err)
	}
}

// SetMaxQueued gives one conn a limit of its own, checked at once.
func TestSetMaxQueuedAppliesToThatConn(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	h := newRecordingHandler()
	c, _ := adoptedSocketpair(t, l, h, transport.Config{HighWater: -1})
	other, _ := adoptedSocketpair(t, l, h, transport.Config{HighWater: -1})
	big := make([]byte, 4<<20) // more than the socket buffers take
	var errNegative, errSet error
	onLoop(t, l, func() {
		c.Write(big)
		other.Write(big)
		errNegative = c.SetMaxQueued(-1)
	})
	if errNegative == nil || !strings.Contains(errNegative.Error(), "MaxQueued -1") {
		t.Errorf("SetMaxQueued(-1) = %v, want the Validate error", errNegative)
	}
	onLoop(t, l, func() { errSet = c.SetMaxQueued(1 << 20) }) // outside a callback: checked at once
	if errSet != transport.ErrSlowConsumer {
		t.Errorf("SetMaxQueued(1 MiB) on a conn owing more = %v, want ErrSlowConsumer", errSet)
	}
	closed := h.waitClosed(t)
	if closed.c != c || !errors.Is(closed.err, transport.ErrSlowConsumer) {
		t.Errorf("OnClose(%v) of conn %p, want ErrSlowConsumer for %p", closed.err, closed.c, c)
	}
	if err := c.AsyncWrite([]byte("x"), nil); err != transport.ErrSlowConsumer {
		t.Errorf("AsyncWrite after the close = %v, want ErrSlowConsumer", err)
	}
	var state transport.State
	onLoop(t, l, func() { state = other.State() })
	if state != transport.Open {
		t.Errorf("the other conn is %v, want open: the limit was that conn's alone", state)
	}
}

// A loop that stops with AsyncWrites queued for a conn whose peer takes nothing
// more does not copy them into the conn's queue on its way out (its last flush
// could not write them): each fails with ErrClosed. A publisher far ahead of a
// stalled peer made Close copy gigabytes and take seconds.
func TestStoppingLoopQueuesNothingForAStalledConn(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	c, _ := adoptedSocketpair(t, l, newRecordingHandler(), transport.Config{HighWater: -1})
	onLoop(t, l, func() { c.Write(make([]byte, 8<<20)) }) // the kernel takes a part; the rest waits
	var before, after int
	onLoop(t, l, func() { before = c.Queued() })
	if before == 0 {
		t.Fatal("the kernel took 8 MiB: the test needs a stalled peer")
	}
	hold := make(chan struct{})
	onLoopAsync(l, func() { <-hold })
	tally := newAsyncTally()
	for range 1000 {
		tally.write(c, make([]byte, 1<<10))
	}
	queued := make(chan int, 1)
	onLoopAsync(l, func() { queued <- c.Queued() })
	l.Stop()
	close(hold)
	tally.wait(t)
	after = testutil.Recv(t, queued, waitFor, "the queue's size after the AsyncWrites")
	if after != before {
		t.Errorf("the stopping loop queued %d more bytes for a stalled conn, want none", after-before)
	}
	if n := tally.failures(transport.ErrClosed); n != 1000 {
		t.Errorf("%d of 1000 AsyncWrites failed with ErrClosed (written: %d bytes)", n, tally.written.Load())
	}
}

// A queue near its conn's output limit grows to the limit and then by a
// quarter of it, not by doubling: the buffer of a conn about to be closed for
// its limit is not twice the limit.
func TestQueueNearItsLimitDoesNotDouble(t *testing.T) {
	const limit = 1 << 20
	l := startLoop(t, logLoopErrors(t))
	h := newRecordingHandler()
	c, _ := adoptedSocketpair(t, l, h, transport.Config{MaxQueued: limit, HighWater: -1})
	var caps []int
	onLoop(t, l, func() { // one task, so no flush runs between the writes
		msg := make([]byte, 1<<10)
		for range (limit + limit/2) / len(msg) {
			c.Write(msg)
			if n := transport.QueueCap(c); len(caps) == 0 || caps[len(caps)-1] != n {
				caps = append(caps, n)
			}
		}
	})
	if err := h.waitClosed(t).err; !errors.Is(err, transport.ErrSlowConsumer) {
		t.Errorf("OnClose(%v), want ErrSlowConsumer", err)
	}
	if top := caps[len(caps)-1]; top > limit+limit/2+limit/4 {
		t.Errorf("the queue's buffer grew through %v bytes, past 1.75 times the limit", caps)
	}
}
