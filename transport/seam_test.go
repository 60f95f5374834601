//go:build linux

// Linux only: these tests reuse the Linux-only helpers of helpers_test.go and fake
// the socket calls of internal/sys, whose send path (MSG_NOSIGNAL) is Linux's.

package transport_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// ioFunc is the shape of sys.Read and sys.Write.
type ioFunc = func(fd int, p []byte) (int, error)

// interceptIO swaps *slot (&sys.Read or &sys.Write) for a function that hands calls
// on the fd held in watched to fake, along with the real function, and every
// other call (the loop's eventfd, other conns) straight to the real one. Set
// watched once the fd is known (in OnOpen, say); until then it is -1 and nothing
// is faked. It must run before the loop starts, because the loop goroutine reads
// the slot: swapping it while the loop runs is a data race. The original comes
// back when the test ends, after the loop has been stopped (cleanups run last
// registered first).
func interceptIO(t testing.TB, slot *ioFunc, watched *atomic.Int64, fake func(real ioFunc, fd int, p []byte) (int, error)) {
	t.Helper()
	real := *slot
	t.Cleanup(sys.Swap(slot, func(fd int, p []byte) (int, error) {
		if int64(fd) != watched.Load() {
			return real(fd, p)
		}
		return fake(real, fd, p)
	}))
}

// newWatchedFd returns an fd holder for interceptIO that watches nothing yet.
func newWatchedFd() *atomic.Int64 { return atomic.NewInt64(-1) }

// closeCounts counts the close(2) calls made through sys.Close, per fd number.
type closeCounts struct {
	mu sync.Mutex
	n  map[int]int
}

// countCloses wraps sys.Close to count its calls per fd number. Like
// interceptIO, it must run before the loop starts.
func countCloses(t *testing.T) *closeCounts {
	t.Helper()
	cc := &closeCounts{n: make(map[int]int)}
	real := sys.Close
	t.Cleanup(sys.Swap(&sys.Close, func(fd int) error {
		cc.mu.Lock()
		cc.n[fd]++
		cc.mu.Unlock()
		return real(fd)
	}))
	return cc
}

// of returns how many times sys.Close was called for fd.
func (cc *closeCounts) of(fd int) int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.n[fd]
}

// asyncResults records AsyncWrite callbacks in the order they ran: the index of
// each write, the error it got, and how many times each index ran. The callbacks
// run on the loop goroutine, the reads happen on the test goroutine, so a mutex
// guards it.
type asyncResults struct {
	mu    sync.Mutex
	order []int
	errs  []error
	calls []int
}

func newAsyncResults(n int) *asyncResults { return &asyncResults{calls: make([]int, n)} }

// done returns the callback for AsyncWrite number i.
func (r *asyncResults) done(i int) func(error) {
	return func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.order = append(r.order, i)
		r.errs = append(r.errs, err)
		r.calls[i]++
	}
}

// ran returns how many callbacks have run so far.
func (r *asyncResults) ran() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

// checkEachOnceInOrder fails the test unless every callback ran exactly once, in
// the order of the AsyncWrite calls, and returns how many of them got nil. It
// also fails if a nil follows an error: bytes after a failure were not written.
func (r *asyncResults) checkEachOnceInOrder(t *testing.T) (ok int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, n := range r.calls {
		if n != 1 {
			t.Fatalf("AsyncWrite callback %d ran %d times, want exactly 1", i, n)
		}
	}
	for k, i := range r.order {
		if i != k {
			t.Fatalf("AsyncWrite callback %d ran in position %d, want the order of the writes", i, k)
		}
		if r.errs[k] == nil {
			if ok != k {
				t.Fatalf("AsyncWrite callback %d got nil after an earlier one failed", i)
			}
			ok++
		}
	}
	return ok
}

// Fault injection through sys.Write: the kernel takes a few bytes at a time (a
// pseudo-random count, from one byte to a few KiB) and sometimes nothing at all
// (EAGAIN although the socket is writable). Every byte of a 4 MiB stream of
// AsyncWrites of varying sizes must still reach the peer once and in order, and
// every AsyncWrite callback must run once, in order, with nil.
func TestShortWritesKeepOrderAndIntegrity(t *testing.T) {
	const total = 4 << 20
	watched := newWatchedFd()
	var calls, shorts, eagains atomic.Int64
	// The fake runs only for the watched fd, which only the loop goroutine writes:
	// rng needs no lock.
	rng := rand.New(rand.NewPCG(7, 11))
	limits := [...]int{7, 100, 1500, 9000}
	interceptIO(t, &sys.Write, watched, func(real ioFunc, fd int, p []byte) (int, error) {
		calls.Inc()
		if rng.IntN(8) == 0 {
			eagains.Inc()
			return 0, unix.EAGAIN
		}
		if limit := 1 + rng.IntN(limits[rng.IntN(len(limits))]); len(p) > limit {
			shorts.Inc()
			p = p[:limit]
		}
		return real(fd, p)
	})
	l := startLoop(t, nil)
	h := newRecordingHandler()
	h.open = func(c *transport.Conn) { watched.Store(int64(c.Fd())) }
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)

	msg := randomPattern(13, total)
	var sizes []int
	sizer := rand.New(rand.NewPCG(13, 17))
	for off := 0; off < total; {
		n := min(1+sizer.IntN(8<<10), total-off)
		sizes = append(sizes, n)
		off += n
	}
	results := newAsyncResults(len(sizes))
	off := 0
	for i, n := range sizes {
		if err := c.AsyncWrite(msg[off:off+n], results.done(i)); err != nil {
			t.Fatalf("AsyncWrite %d: %v", i, err)
		}
		off += n
	}
	got := make([]byte, total)
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("the 4 MiB stream arrived corrupted or out of order: first difference at byte %d", firstDiff(got, msg))
	}
	testutil.Eventually(t, waitFor, func() bool { return results.ran() == len(sizes) }, "every AsyncWrite callback to run")
	runRounds(t, l, 2)
	if ok := results.checkEachOnceInOrder(t); ok != len(sizes) {
		t.Errorf("%d of %d AsyncWrite callbacks got nil, want all", ok, len(sizes))
	}
	t.Logf("%d writes for %d AsyncWrites: %d cut short, %d EAGAIN", calls.Load(), len(sizes), shorts.Load(), eagains.Load())
	if shorts.Load() < 100 || eagains.Load() < 10 {
		t.Fatalf("the fake cut %d writes short and refused %d: the test did not exercise short writes", shorts.Load(), eagains.Load())
	}
	if n := h.closeCount(c); n != 0 {
		t.Errorf("the conn closed (%d OnClose) under short writes", n)
	}
}

// Fault injection through sys.Read and sys.Write: every other call on the conn's
// fd fails with EINTR, as when a signal (Go's SIGURG preemption, a profiler's
// SIGPROF) lands before the call moved a byte. Each must be retried: the echo
// stays intact, and the conn sees no error and does not close.
func TestEINTROnReadAndWriteIsRetried(t *testing.T) {
	watched := newWatchedFd()
	var readEINTR, writeEINTR atomic.Int64
	// The toggles are touched only on the loop goroutine (the watched fd's reads
	// and writes happen there).
	var readTurn, writeTurn bool
	interceptIO(t, &sys.Read, watched, func(real ioFunc, fd int, p []byte) (int, error) {
		if readTurn = !readTurn; readTurn {
			readEINTR.Inc()
			return -1, unix.EINTR
		}
		return real(fd, p)
	})
	interceptIO(t, &sys.Write, watched, func(real ioFunc, fd int, p []byte) (int, error) {
		if writeTurn = !writeTurn; writeTurn {
			writeEINTR.Inc()
			return 0, unix.EINTR
		}
		return real(fd, p)
	})
	l := startLoop(t, nil) // an OnError fails the test
	h := newRecordingHandler()
	h.open = func(c *transport.Conn) { watched.Store(int64(c.Fd())) }
	h.data = echoAll
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)

	for _, msg := range []string{"one", "two", "three", "a somewhat longer fourth message"} {
		expectEcho(t, cl, msg)
	}
	// A large echo: many reads and writes, some of them blocked, all interrupted
	// every other time.
	big := randomPattern(17, 1<<20)
	wrote := make(chan error, 1)
	go func() { _, err := cl.Write(big); wrote <- err }()
	got := make([]byte, len(big))
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatalf("client read of the 1 MiB echo: %v", err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("1 MiB echo corrupted at byte %d", firstDiff(got, big))
	}
	if err := testutil.Recv(t, wrote, waitFor, "client write"); err != nil {
		t.Fatal(err)
	}
	runRounds(t, l, 2)
	var state transport.State
	onLoop(t, l, func() { state = c.State() })
	if state != transport.Open || h.closeCount(c) != 0 {
		t.Errorf("conn state %v with %d OnClose after EINTRs, want open and none", state, h.closeCount(c))
	}
	t.Logf("%d reads and %d writes interrupted", readEINTR.Load(), writeEINTR.Load())
	if readEINTR.Load() < 2 || writeEINTR.Load() < 2 {
		t.Fatalf("%d reads and %d writes got EINTR: the test did not exercise the retry", readEINTR.Load(), writeEINTR.Load())
	}
}

// Fault injection through sys.Write: after 1 MiB of a 4 MiB queue of AsyncWrites
// has gone out, the kernel reports the peer's reset (ECONNRESET) on the next
// write and every one after. The conn must close once, with an error that wraps
// ECONNRESET; each AsyncWrite callback must run once, nil for those whose bytes
// went out before the reset and the reset for the rest; the fd must be closed
// exactly once; and the peer must have received exactly the bytes written before.
func TestResetReportedByWriteClosesOnceAndFailsQueuedWrites(t *testing.T) {
	const writes, size, resetAfter = 64, 64 << 10, 1 << 20
	closes := countCloses(t)
	watched := newWatchedFd()
	var passed, resets atomic.Int64 // only the loop goroutine writes them
	interceptIO(t, &sys.Write, watched, func(real ioFunc, fd int, p []byte) (int, error) {
		left := resetAfter - passed.Load()
		if left <= 0 {
			resets.Inc()
			return 0, unix.ECONNRESET
		}
		n, err := real(fd, p[:min(int64(len(p)), left)])
		if n > 0 {
			passed.Add(int64(n))
		}
		return n, err
	})
	l := startLoop(t, nil) // an OnError fails the test: the error goes to OnClose only
	h := newRecordingHandler()
	h.open = func(c *transport.Conn) {
		setSndBuf(t, c, smallBuf)
		watched.Store(int64(c.Fd()))
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	// Small buffers and a client that reads nothing yet: the kernel takes a few
	// tens of KiB, far from the 1 MiB of the reset, until every write is queued.
	cl := dial(t, ln.Addr().String(), smallBuf)
	c := h.accept(t)
	fd := c.Fd()

	msg := randomPattern(19, writes*size)
	results := newAsyncResults(writes)
	for i := 0; i < writes; i++ {
		if err := c.AsyncWrite(msg[i*size:(i+1)*size], results.done(i)); err != nil {
			t.Fatalf("AsyncWrite %d: %v", i, err)
		}
	}
	onLoop(t, l, func() {}) // tasks run in order: every AsyncWrite is queued now
	if n := passed.Load(); n >= resetAfter {
		t.Fatalf("setup: %d bytes went out before every write was queued", n)
	}
	received := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(cl) // until the server's close (EOF) or the deadline
		received <- b
	}()

	cls := h.waitClosed(t)
	if cls.c != c || !errors.Is(cls.err, unix.ECONNRESET) {
		t.Errorf("OnClose err = %v, want one wrapping ECONNRESET", cls.err)
	}
	testutil.Eventually(t, waitFor, func() bool { return results.ran() == writes }, "every AsyncWrite callback to run")
	runRounds(t, l, 3)
	ok := results.checkEachOnceInOrder(t)
	results.mu.Lock()
	for k, err := range results.errs[ok:] {
		if !errors.Is(err, unix.ECONNRESET) {
			t.Errorf("AsyncWrite callback %d got %v, want the reset", ok+k, err)
		}
	}
	results.mu.Unlock()
	if want := resetAfter / size; ok != want {
		t.Errorf("%d AsyncWrite callbacks got nil, want the %d whose bytes went out before the reset", ok, want)
	}
	if n := h.closeCount(c); n != 1 {
		t.Errorf("OnClose ran %d times, want 1", n)
	}
	if n := closes.of(fd); n != 1 {
		t.Errorf("fd %d was closed %d times through sys.Close, want exactly 1", fd, n)
	}
	if n := resets.Load(); n != 1 {
		t.Errorf("%d writes after the reset, want 1: the conn kept writing to a reset socket", n)
	}
	got := testutil.Recv(t, received, waitFor, "the client to see the close")
	if !bytes.Equal(got, msg[:resetAfter]) {
		t.Errorf("client got %d bytes, want the %d written before the reset (first difference at %d)",
			len(got), resetAfter, firstDiff(got, msg[:resetAfter]))
	}
}
