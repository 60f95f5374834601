//go:build linux

// Linux only: these tests reuse the Linux-only helpers of helpers_test.go, set
// socket buffer sizes whose doubling is Linux's, and fake sys.Read.

package transport_test

import (
	"crypto/sha256"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/poller"
	"github.com/sycamore-go/sycamore/transport"
)

// Row 6 of RELIABILITY.md: the handler writes 64 MiB at once to a conn whose send
// buffer is 16 KiB, and the client reads it slowly, in small chunks with pauses.
// The stream must arrive whole and in order (its SHA-256 matches), and once the
// queue has drained the conn must drop its write interest: a conn that kept
// asking for Writable on an empty queue would make the level-triggered loop spin,
// which a window of rounds with nothing to do shows.
func TestWriteLargerThanSocketBufferKeepsOrderAndStopsWriteInterest(t *testing.T) {
	const (
		size       = 64 << 20
		readChunk  = 8 << 10 // the client's small reads
		pauseEvery = 1 << 20 // and a pause after each MiB read
		pause      = 2 * time.Millisecond
		// quietWindow is how long the loop is watched once the queue is empty.
		// With nothing to do it blocks in epoll_wait; a conn still asking for
		// Writable would wake it thousands of times in this window.
		quietWindow = 200 * time.Millisecond
		// maxQuietRounds is generous: nothing the test does runs a round in the
		// window, so the few allowed are for stray wakeups.
		maxQuietRounds = 20
	)
	l := startLoop(t, nil)
	h := newRecordingHandler()
	msg := longPattern(6, size)
	want := sha256.Sum256(msg)
	h.open = func(c *transport.Conn) {
		setSndBuf(t, c, smallBuf)
		if _, err := c.Write(msg); err != nil {
			t.Errorf("Write of %d bytes: %v", len(msg), err)
		}
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	// The client's receive buffer is small too, so each of its reads opens the
	// window and is acknowledged at once. With a large one each send buffer's worth
	// in flight waits for a delayed ACK (40 ms) and 64 MiB takes over a minute.
	cl := dial(t, ln.Addr().String(), smallBuf)
	cl.SetDeadline(time.Now().Add(3 * waitFor))
	c := h.accept(t)

	// The kernel took its few tens of KiB; the rest waits in the conn's queue.
	var queued int
	var interest poller.Interest
	onLoop(t, l, func() { queued, interest = c.Queued(), transport.ConnInterest(c) })
	if queued < size/2 || interest&poller.Writable == 0 {
		t.Fatalf("after writing %d bytes to a 16 KiB send buffer: %d queued, interest %v; want most of it queued and Writable asked for",
			size, queued, interest)
	}

	hash := sha256.New()
	buf := make([]byte, readChunk)
	read := 0
	for read < size {
		n, err := cl.Read(buf[:min(readChunk, size-read)])
		hash.Write(buf[:n])
		if read/pauseEvery != (read+n)/pauseEvery {
			time.Sleep(pause) // a slow reader: the server's queue stays blocked meanwhile
		}
		read += n
		if err != nil {
			t.Fatalf("client read after %d of %d bytes: %v", read, size, err)
		}
	}
	if got := hash.Sum(nil); string(got) != string(want[:]) {
		t.Fatalf("the %d bytes arrived corrupted or out of order: SHA-256 %x, want %x", size, got, want)
	}

	// The last write has returned (the client read its bytes), so the conn has
	// settled its interest in the same handler call.
	var state transport.State
	onLoop(t, l, func() { queued, interest, state = c.Queued(), transport.ConnInterest(c), c.State() })
	if queued != 0 || state != transport.Open {
		t.Fatalf("after the client read everything: %d queued, state %v; want 0 and open", queued, state)
	}
	if interest&poller.Writable != 0 || interest&poller.Readable == 0 {
		t.Errorf("interest after the queue drained = %v, want Readable only", interest)
	}
	before := l.Stats()
	time.Sleep(quietWindow) // measuring that the loop does not spin
	after := l.Stats()
	if rounds, events := after.Rounds-before.Rounds, after.Events-before.Events; rounds > maxQuietRounds || events > maxQuietRounds {
		t.Errorf("an idle loop ran %d rounds with %d events in %v after the queue drained: it spins on write readiness",
			rounds, events, quietWindow)
	}
	if n := h.onWritable.Load(); n != 0 {
		t.Errorf("OnWritable ran %d times for a conn that never asked for it", n)
	}
	if n := h.closeCount(c); n != 0 {
		t.Errorf("OnClose ran %d times; the conn should still be open", n)
	}
}

// longPattern returns n bytes made of 1 MiB blocks, each a different rotation of
// one pseudo-random MiB: no two blocks alike, so a checksum of the stream still
// catches bytes out of order, and far cheaper than randomPattern(seed, n) under the
// race detector (0.1 s instead of 0.9 s for 64 MiB).
func longPattern(seed uint64, n int) []byte {
	const block = 1 << 20
	base := randomPattern(seed, block)
	p := make([]byte, n)
	for off, i := 0, 0; off < n; off, i = off+block, i+1 {
		r := i * 4099 % block // 4099 is odd, so no two blocks share a rotation
		k := copy(p[off:], base[r:])
		copy(p[off+k:], base[:r])
	}
	return p
}

// Row 12 of RELIABILITY.md: a readable event with nothing to read. The poller's
// contract allows spurious events, so a read that returns EAGAIN must be taken
// as "not ready after all": no OnData, no OnError, no close. Two ways: an event
// delivered by hand to a conn whose socket is empty (the real read returns
// EAGAIN), and a real event whose read the seam answers with EAGAIN once (the
// level-triggered poller then reports the bytes again). The conn echoes after both.
func TestSpuriousReadableEventIsIgnored(t *testing.T) {
	watched := newWatchedFd()
	var armed atomic.Bool // the next read of the watched fd returns EAGAIN
	var injected, realEAGAIN atomic.Int64
	interceptIO(t, &sys.Read, watched, func(real ioFunc, fd int, p []byte) (int, error) {
		if armed.CompareAndSwap(true, false) {
			injected.Inc()
			return -1, unix.EAGAIN
		}
		n, err := real(fd, p)
		if err == unix.EAGAIN {
			realEAGAIN.Inc()
		}
		return n, err
	})
	l := startLoop(t, nil) // an OnError fails the test
	h := newRecordingHandler()
	var emptyOnData atomic.Int64
	h.open = func(c *transport.Conn) { watched.Store(int64(c.Fd())) }
	h.data = func(c *transport.Conn) {
		if c.Buffered() == 0 {
			emptyOnData.Inc()
		}
		echoAll(c)
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)
	expectEcho(t, cl, "before")

	// A readable event delivered by hand, with the socket empty.
	onData := h.onData.Load()
	var inq int
	var eagains int64
	var state transport.State
	onLoop(t, l, func() {
		inq, eagains = kernelInq(t, c.Fd()), realEAGAIN.Load()
		transport.DeliverEvent(c, poller.Event{Fd: c.Fd(), Ready: poller.Readable})
		state, eagains = c.State(), realEAGAIN.Load()-eagains
	})
	if inq != 0 {
		t.Fatalf("setup: %d bytes waited in the socket; the event must find it empty", inq)
	}
	if eagains != 1 {
		t.Fatalf("setup: %d reads returned EAGAIN for the spurious event, want 1", eagains)
	}
	if state != transport.Open || h.onData.Load() != onData {
		t.Errorf("after a spurious readable event: state %v, %d OnData; want open and none", state, h.onData.Load()-onData)
	}
	expectEcho(t, cl, "after a spurious event")

	// A real event whose first read is answered with EAGAIN.
	armed.Store(true)
	onData = h.onData.Load()
	expectEcho(t, cl, "after an EAGAIN read")
	if injected.Load() != 1 {
		t.Fatalf("setup: the seam answered %d reads with EAGAIN, want 1", injected.Load())
	}
	if n := h.onData.Load() - onData; n != 1 {
		t.Errorf("OnData ran %d times for one message whose first read got EAGAIN, want 1", n)
	}

	runRounds(t, l, 2)
	onLoop(t, l, func() { state = c.State() })
	if state != transport.Open || h.closeCount(c) != 0 || emptyOnData.Load() != 0 {
		t.Errorf("state %v, %d OnClose, %d OnData with nothing buffered; want open, 0, 0",
			state, h.closeCount(c), emptyOnData.Load())
	}
}

// isSameFile reports whether fd still refers to the file (dev, ino) named, that
// is whether it is still open and its number not reused by another file.
func isSameFile(fd int, dev, ino uint64) bool {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false
	}
	return st.Dev == dev && st.Ino == ino
}

// fileID returns the (dev, ino) of the file fd refers to.
func fileID(t testing.TB, fd int) (dev, ino uint64) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Errorf("fstat %d: %v", fd, err)
	}
	return st.Dev, st.Ino
}

// takeFdNumber opens sockets until one gets the fd number want (the kernel hands
// out the lowest free number) and returns it, open, for the caller to close; the
// others are closed. It returns -1 if want is taken by someone else.
func takeFdNumber(t testing.TB, want int) int {
	t.Helper()
	var spares []int
	defer func() {
		for _, fd := range spares {
			unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("socket: %v", err)
		}
		if fd == want {
			return fd
		}
		spares = append(spares, fd)
		if fd > want {
			return -1
		}
	}
}
