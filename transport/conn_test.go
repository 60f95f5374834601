//go:build linux

// Linux only: these tests read kernel queue sizes (SIOCINQ, SIOCOUTQ), fake accept4
// through the syscall seam, or make sockets with SOCK_CLOEXEC/SOCK_NONBLOCK flags.

package transport_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

func TestEchoHundredClientsOneMiBPipelined(t *testing.T) {
	const clients, size = 100, 1 << 20
	l := startLoop(t, nil)
	h := newRecordingHandler()
	h.data = echoAll
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{NoDelay: true})

	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		c := dial(t, ln.Addr().String(), 0)
		c.SetDeadline(time.Now().Add(3 * waitFor))
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := randomPattern(uint64(i), size)
			wrote := make(chan error, 1)
			go func() {
				// Write in pieces while the echo comes back on the same conn.
				var err error
				for off := 0; off < size && err == nil; off += 32 << 10 {
					_, err = c.Write(msg[off : off+32<<10])
				}
				wrote <- err
			}()
			got := make([]byte, size)
			if _, err := io.ReadFull(c, got); err != nil {
				t.Errorf("client %d: read echo: %v", i, err)
			} else if !bytes.Equal(got, msg) {
				t.Errorf("client %d: echo differs from what it sent at byte %d", i, firstDiff(got, msg))
			}
			if err := <-wrote; err != nil {
				t.Errorf("client %d: write: %v", i, err)
			}
		}()
	}
	wg.Wait()
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// peekResult is what TestPeekNextDiscardSemanticsInsideOnData's handler saw.
type peekResult struct {
	peek3, peekAll, peekLong, next3, rest                string
	peekLongErr, nextLongErr, discardErr, discardLongErr error
	nextLongNil                                          bool
	bufAfterNextLong, discarded, discardedLong, bufEnd   int
}

func TestPeekNextDiscardSemanticsInsideOnData(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	results := make(chan peekResult, 1)
	h.data = func(c *transport.Conn) {
		if c.Buffered() < 8 {
			return // leave it buffered until all 8 bytes are here
		}
		var r peekResult
		p, _ := c.Peek(3)
		r.peek3 = string(p)
		p, _ = c.Peek(-1)
		r.peekAll = string(p)
		p, r.peekLongErr = c.Peek(100)
		r.peekLong = string(p)
		p, r.nextLongErr = c.Next(100)
		r.nextLongNil = p == nil
		r.bufAfterNextLong = c.Buffered()
		r.discarded, r.discardErr = c.Discard(2)
		p, _ = c.Next(3)
		r.next3 = string(p)
		p, _ = c.Peek(-1)
		r.rest = string(p)
		r.discardedLong, r.discardLongErr = c.Discard(10)
		r.bufEnd = c.Buffered()
		results <- r
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	if _, err := cl.Write([]byte("abcdefgh")); err != nil {
		t.Fatal(err)
	}
	r := testutil.Recv(t, results, waitFor, "OnData with 8 bytes")
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("Peek(3)", r.peek3, "abc")
	check("Peek(-1)", r.peekAll, "abcdefgh")
	check("Peek(100) bytes", r.peekLong, "abcdefgh")
	check("Peek(100) err is io.ErrShortBuffer", errors.Is(r.peekLongErr, io.ErrShortBuffer), true)
	check("Next(100) returned nil", r.nextLongNil, true)
	check("Next(100) err is io.ErrShortBuffer", errors.Is(r.nextLongErr, io.ErrShortBuffer), true)
	check("Buffered after a short Next (consumes nothing)", r.bufAfterNextLong, 8)
	check("Discard(2)", r.discarded, 2)
	check("Discard(2) err", r.discardErr, nil)
	check("Next(3) after Discard(2)", r.next3, "cde")
	check("Peek(-1) after Next(3)", r.rest, "fgh")
	check("Discard(10) of 3 buffered", r.discardedLong, 3)
	check("Discard(10) err is io.ErrShortBuffer", errors.Is(r.discardLongErr, io.ErrShortBuffer), true)
	check("Buffered at the end", r.bufEnd, 0)
}

// framingHandler is a length-prefixed framing handler (4-byte big-endian length,
// then the payload). It consumes only whole frames and leaves a partial one
// buffered, checking Peek's and Next's short-buffer results on the way.
type framingHandler struct {
	t      testing.TB
	frames chan []byte // payload copies, in order

	mu      sync.Mutex
	entries []string // per OnData: Buffered and the first bytes buffered
}

func (f *framingHandler) onData(c *transport.Conn) {
	all, _ := c.Peek(-1)
	f.mu.Lock()
	f.entries = append(f.entries, fmt.Sprintf("%d:%q", c.Buffered(), all[:min(len(all), 9)]))
	f.mu.Unlock()
	for {
		hdr, err := c.Peek(4)
		if err != nil {
			if !errors.Is(err, io.ErrShortBuffer) || len(hdr) != c.Buffered() {
				f.t.Errorf("short Peek(4) = %d bytes, %v; want the %d buffered and io.ErrShortBuffer", len(hdr), err, c.Buffered())
			}
			return
		}
		n := int(binary.BigEndian.Uint32(hdr))
		before := c.Buffered()
		frame, err := c.Next(4 + n)
		if err != nil {
			if frame != nil || !errors.Is(err, io.ErrShortBuffer) || c.Buffered() != before {
				f.t.Errorf("short Next(%d) = %d bytes, %v, Buffered %d→%d; want nil, io.ErrShortBuffer, nothing consumed",
					4+n, len(frame), err, before, c.Buffered())
			}
			return
		}
		f.frames <- append([]byte(nil), frame[4:]...)
	}
}

func (f *framingHandler) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.entries...)
}

func frameHeader(payload []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
}

func TestFramingHandlerSeesUnconsumedBytesAgain(t *testing.T) {
	l := startLoop(t, nil)
	f := &framingHandler{t: t, frames: make(chan []byte, 16)}
	h := newRecordingHandler()
	h.data = f.onData
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)

	// The first write holds the header and half the payload: no frame yet.
	first := append(frameHeader([]byte("hello")), "hel"...)
	if _, err := cl.Write(first); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitFor, func() bool { return h.onData.Load() == 1 }, "first OnData")
	runRounds(t, l, 1) // let that OnData return
	select {
	case fr := <-f.frames:
		t.Fatalf("frame %q delivered from a partial write", fr)
	default:
	}
	if _, err := cl.Write([]byte("lo")); err != nil {
		t.Fatal(err)
	}
	if got := testutil.Recv(t, f.frames, waitFor, "the completed frame"); string(got) != "hello" {
		t.Errorf("frame = %q, want %q", got, "hello")
	}
	// The second OnData must see the 7 bytes left unread before the 2 new ones.
	want := []string{fmt.Sprintf("7:%q", first), fmt.Sprintf("9:%q", append(first, 'l', 'o'))}
	if got := f.seen(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("OnData saw (Buffered:first bytes) %v, want %v", got, want)
	}
}

func TestFramingHandlerReassemblesOneMiBFrame(t *testing.T) {
	l := startLoop(t, nil)
	f := &framingHandler{t: t, frames: make(chan []byte, 16)}
	h := newRecordingHandler()
	h.data = f.onData
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)

	// One 1 MiB frame followed by a small one, in one write: the big frame spans
	// many reads (the loop reads at most 64 KiB at a time), and the small one
	// arrives as leftover after it.
	big := randomPattern(1, 1<<20)
	msg := append(frameHeader(big), big...)
	msg = append(msg, frameHeader([]byte("tail"))...)
	msg = append(msg, "tail"...)
	wrote := make(chan error, 1)
	go func() { _, err := cl.Write(msg); wrote <- err }()

	if err := testutil.Recv(t, wrote, waitFor, "client write"); err != nil {
		t.Fatal(err)
	}
	// Once nothing is left in flight (the client's send queue and the server's
	// receive queue are empty), every byte has been through OnData: the frames
	// must be out. Waiting for that instead of a timeout makes a lost-bytes
	// failure fast and says how many bytes the handler saw.
	raw, _ := cl.SyscallConn()
	testutil.Eventually(t, waitFor, func() bool {
		var outq int
		raw.Control(func(fd uintptr) { outq, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
		return outq == 0 && kernelInqOnLoop(t, l, c) == 0
	}, "the client's bytes to reach the server's handler")
	runRounds(t, l, 1)
	var got []byte
	select {
	case got = <-f.frames:
	default:
		seen := f.seen()
		t.Fatalf("no 1 MiB frame after the handler read everything: client wrote %d bytes; OnData ran %d times, the last saw (Buffered:first bytes) %s",
			len(msg), len(seen), seen[len(seen)-1])
	}
	if !bytes.Equal(got, big) {
		t.Errorf("1 MiB frame corrupted: %d bytes, first difference at byte %d", len(got), firstDiff(got, big))
	}
	if tail := testutil.Recv(t, f.frames, waitFor, "the frame after it"); string(tail) != "tail" {
		t.Errorf("frame after the big one = %q, want %q", tail, "tail")
	}
	if n := h.onData.Load(); n < 2 {
		t.Errorf("OnData ran %d times; a 1 MiB frame should take many reads", n)
	}
}

func TestSendReturnsZeroWhenSocketFullThenOnWritable(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	type sendResult struct {
		total, lastN int
		lastErr      error
	}
	sent := make(chan sendResult, 1)
	h.open = func(c *transport.Conn) {
		setSndBuf(t, c, smallBuf)
		chunk := bytes.Repeat([]byte("s"), 4<<10)
		var r sendResult
		for i := 0; i < 100000; i++ { // a bound, in case Send never returns 0
			r.lastN, r.lastErr = c.Send(chunk)
			if r.lastN == 0 || r.lastErr != nil {
				break
			}
			r.total += r.lastN
		}
		sent <- r
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), smallBuf) // never reads until told

	r := testutil.Recv(t, sent, waitFor, "Send loop in OnOpen")
	if r.lastN != 0 || r.lastErr != nil {
		t.Fatalf("Send stopped with (%d, %v) after %d bytes, want (0, nil) on a full socket", r.lastN, r.lastErr, r.total)
	}
	if r.total == 0 {
		t.Fatal("Send took no bytes at all")
	}
	buf := make([]byte, r.total)
	if _, err := io.ReadFull(cl, buf); err != nil {
		t.Fatalf("client read of the %d sent bytes: %v", r.total, err)
	}
	testutil.Eventually(t, waitFor, func() bool { return h.onWritable.Load() >= 1 }, "OnWritable after the client read")
	runRounds(t, l, 3)
	if n := h.onWritable.Load(); n != 1 {
		t.Errorf("OnWritable ran %d times after one Send returned 0, want exactly 1", n)
	}
}

func TestEchoConnThatNeverAskedGetsNoOnWritable(t *testing.T) {
	const size = 1 << 20
	l, h, received, cl := startSmallBufEcho(t)

	for round := 1; round <= 3; round++ {
		msg := randomPattern(uint64(round), size)
		wrote := make(chan error, 1)
		go func() { _, err := cl.Write(msg); wrote <- err }()
		// The client reads nothing until the server has read the whole MiB, so the
		// echo cannot fit in the small socket buffers: its writes hit EAGAIN.
		testutil.Eventually(t, waitFor, func() bool { return received.Load() == int64(round*size) },
			"server received round %d", round)
		got := make([]byte, size)
		if _, err := io.ReadFull(cl, got); err != nil {
			t.Fatalf("round %d: read echo: %v", round, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("round %d: echo corrupted at byte %d", round, firstDiff(got, msg))
		}
		if err := testutil.Recv(t, wrote, waitFor, "client write"); err != nil {
			t.Fatal(err)
		}
	}
	runRounds(t, l, 2)
	if n := h.onWritable.Load(); n != 0 {
		t.Errorf("OnWritable ran %d times for a conn that never asked for it", n)
	}
}

func TestDeferWriteDeliversExactlyOneOnWritable(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	h.data = func(c *transport.Conn) {
		if p, _ := c.Peek(-1); string(p) == "defer" {
			if err := c.DeferWrite(); err != nil {
				t.Errorf("DeferWrite: %v", err)
			}
		}
		echoAll(c)
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	roundTrip := func(msg string) {
		t.Helper()
		if _, err := cl.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(cl, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %q = %q, %v", msg, got, err)
		}
	}
	roundTrip("defer")
	testutil.Eventually(t, waitFor, func() bool { return h.onWritable.Load() >= 1 }, "OnWritable after DeferWrite")
	for i := 0; i < 5; i++ {
		roundTrip(fmt.Sprintf("more traffic %d", i))
	}
	runRounds(t, l, 2)
	if n := h.onWritable.Load(); n != 1 {
		t.Errorf("OnWritable ran %d times after one DeferWrite, want exactly 1", n)
	}
}

func TestRecvReturnsZeroThenDataThenEOF(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	h.open = func(c *transport.Conn) { c.PauseRead() }
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)

	recv := func() (string, error) {
		var n int
		var err error
		buf := make([]byte, 64)
		onLoop(t, l, func() { n, err = c.Recv(buf) })
		return string(buf[:n]), err
	}
	if got, err := recv(); got != "" || err != nil {
		t.Fatalf("Recv with nothing sent = %q, %v; want 0, nil", got, err)
	}
	if _, err := cl.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	var got string
	testutil.Eventually(t, waitFor, func() bool {
		s, err := recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		got += s
		return len(got) >= 5
	}, "Recv to return the client's bytes")
	if got != "hello" {
		t.Fatalf("Recv got %q, want %q", got, "hello")
	}
	if s, err := recv(); s != "" || err != nil {
		t.Fatalf("Recv after the data = %q, %v; want 0, nil", s, err)
	}
	if err := cl.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	testutil.Eventually(t, waitFor, func() bool {
		s, err := recv()
		if s != "" {
			t.Fatalf("Recv after CloseWrite returned data %q", s)
		}
		lastErr = err
		return err != nil
	}, "Recv to report EOF")
	if lastErr != io.EOF {
		t.Fatalf("Recv after the peer's shutdown = %v, want io.EOF", lastErr)
	}
	if _, err := recv(); err != io.EOF {
		t.Errorf("second Recv after EOF = %v, want io.EOF", err)
	}
	if n := h.onData.Load(); n != 0 {
		t.Errorf("OnData ran %d times on a conn paused in OnOpen", n)
	}
	onLoop(t, l, func() { c.Close() })
	if cl := h.waitClosed(t); cl.err != nil {
		t.Errorf("OnClose err = %v, want nil", cl.err)
	}
}

// Row 7 of RELIABILITY.md: the peer reads nothing while the handler writes 64
// KiB for every byte it reads. Reading must pause once the queue passes
// HighWater (more input brings no OnData), stay paused while the queue is above
// LowWater, and resume once the peer drains it; meanwhile memory stays flat: the
// queue never grows past HighWater plus one handler's write.
func TestSlowReaderPausesAtHighWaterResumesBelowLowWater(t *testing.T) {
	const highWater, lowWater, perData = 256 << 10, 64 << 10, 64 << 10
	l := startLoop(t, nil)
	h := newRecordingHandler()
	var written atomic.Int64 // bytes the handler queued
	reply := bytes.Repeat([]byte("w"), perData)
	h.open = func(c *transport.Conn) { setSndBuf(t, c, smallBuf) }
	h.data = func(c *transport.Conn) {
		c.Next(-1)
		c.Write(reply)
		written.Add(perData)
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{HighWater: highWater, LowWater: lowWater})
	cl := dial(t, ln.Addr().String(), smallBuf)
	c := h.accept(t)

	// The client sends a byte at a time and reads nothing; each byte makes the
	// handler queue 64 KiB, until the queue passes HighWater and reading stops.
	paused := false
	for i := 0; i < 200 && !paused; i++ {
		if _, err := cl.Write([]byte{'r'}); err != nil {
			t.Fatal(err)
		}
		paused = readsStopped(t, l, c, &h.onData)
	}
	if !paused {
		t.Fatalf("reads never paused; the handler queued %d bytes to a client that reads nothing", written.Load())
	}
	atPause := h.onData.Load()
	t.Logf("reads paused after %d OnData calls, with %d bytes written by the handler", atPause, written.Load())
	var sndbuf, rcvbuf int
	onLoop(t, l, func() { sndbuf, _ = unix.GetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF) })
	raw, _ := cl.SyscallConn()
	raw.Control(func(fd uintptr) { rcvbuf, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	// Memory stays flat: what the handler wrote and the client did not read is the
	// queue (at most HighWater plus one OnData's write) plus the kernel's buffers.
	bound := int64(highWater + perData + sndbuf + rcvbuf + 64<<10)
	if w := written.Load(); w > bound {
		t.Errorf("handler wrote %d bytes the client has not read, want at most %d", w, bound)
	}
	var queued int
	onLoop(t, l, func() { queued = c.Queued() })
	if queued > highWater+perData {
		t.Errorf("%d bytes queued while paused, want at most HighWater plus one write (%d)", queued, highWater+perData)
	}

	// More input does not restart reading.
	for i := 0; i < 20; i++ {
		if _, err := cl.Write([]byte{'r'}); err != nil {
			t.Fatal(err)
		}
	}
	if !readsStopped(t, l, c, &h.onData) || h.onData.Load() != atPause {
		t.Fatalf("OnData ran while the write queue was above HighWater")
	}

	// Reading 64 KiB drains the queue by about that much: still above LowWater,
	// so reading stays paused.
	buf := make([]byte, 64<<10)
	if _, err := io.ReadFull(cl, buf); err != nil {
		t.Fatal(err)
	}
	var clientRead atomic.Int64
	clientRead.Store(64 << 10)
	runRounds(t, l, 2)
	if !readsStopped(t, l, c, &h.onData) || h.onData.Load() != atPause {
		t.Fatalf("reading resumed with the queue still above LowWater (client read only 64 KiB)")
	}

	// Draining everything brings the queue below LowWater: reading resumes and
	// the bytes that waited are handled.
	readerDone := make(chan error, 1)
	go func() {
		for {
			n, err := cl.Read(buf)
			clientRead.Add(int64(n))
			if err != nil {
				readerDone <- err
				return
			}
		}
	}()
	testutil.Eventually(t, waitFor, func() bool { return h.onData.Load() > atPause }, "OnData to resume once the client drains")
	testutil.Eventually(t, waitFor, func() bool {
		return clientRead.Load() == written.Load() && kernelInqOnLoop(t, l, c) == 0
	}, "the client to read everything and the server every waiting byte")
	cl.SetReadDeadline(time.Now())
	if err := testutil.Recv(t, readerDone, waitFor, "client reader"); !isTimeout(err) {
		t.Errorf("client read: %v", err)
	}
}

func kernelInqOnLoop(t testing.TB, l *loop.Loop, c *transport.Conn) int {
	var n int
	onLoop(t, l, func() { n = kernelInq(t, c.Fd()) })
	return n
}

func TestResumeReadDeliversBufferedBytesWithoutNewData(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	seen := make(chan string, 16) // "Buffered:byte" per OnData
	h.data = func(c *transport.Conn) {
		n := c.Buffered()
		b, _ := c.Next(1)
		seen <- fmt.Sprintf("%d:%s", n, b)
		c.PauseRead()
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)
	if _, err := cl.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if got := testutil.Recv(t, seen, waitFor, "first OnData"); got != "3:a" {
		t.Fatalf("first OnData saw %q, want 3 buffered and 'a'", got)
	}
	for _, want := range []string{"2:b", "1:c"} {
		var inq int
		onLoop(t, l, func() { inq = kernelInq(t, c.Fd()); c.ResumeRead() })
		if inq != 0 {
			t.Fatalf("%d bytes still in the socket; the test needs them all buffered in the conn", inq)
		}
		if got := testutil.Recv(t, seen, waitFor, "OnData after ResumeRead"); got != want {
			t.Fatalf("OnData after ResumeRead saw %q, want %q", got, want)
		}
	}
	// Nothing buffered: ResumeRead calls no OnData until new bytes come.
	before := h.onData.Load()
	onLoop(t, l, func() { c.ResumeRead() })
	runRounds(t, l, 2)
	if n := h.onData.Load(); n != before {
		t.Fatalf("OnData ran %d times after ResumeRead with nothing buffered", n-before)
	}
	if _, err := cl.Write([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if got := testutil.Recv(t, seen, waitFor, "OnData for new bytes"); got != "1:d" {
		t.Fatalf("OnData for new bytes saw %q, want %q", got, "1:d")
	}
}

func TestIdleTimeoutClosesQuietConnNotBeforeTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	l := startLoop(t, nil)
	h := newRecordingHandler()
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{IdleTimeout: idle})
	cl := dial(t, ln.Addr().String(), 0)
	h.accept(t)
	if _, err := cl.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	// Write again half a timeout later: the timeout counts from this last write,
	// not from the open or the first write.
	<-time.After(idle / 2)
	lastWrite := time.Now()
	if _, err := cl.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	n, err := cl.Read(make([]byte, 1))
	quiet := time.Since(lastWrite)
	if n != 0 || err != io.EOF {
		t.Fatalf("client read = %d, %v; want EOF from the idle timeout", n, err)
	}
	if quiet < idle {
		t.Errorf("closed %v after the client's last write, before the %v idle timeout", quiet, idle)
	}
	cls := h.waitClosed(t)
	if !errors.Is(cls.err, transport.ErrIdleTimeout) {
		t.Errorf("OnClose err = %v, want ErrIdleTimeout", cls.err)
	}
}

func TestIdleTimeoutSparesConnTricklingFasterThanTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	l := startLoop(t, nil)
	h := newRecordingHandler()
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{IdleTimeout: idle})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)
	start := time.Now()
	tick := time.NewTicker(idle / 3)
	defer tick.Stop()
	for time.Since(start) < 2*idle+idle/2 {
		<-tick.C
		if _, err := cl.Write([]byte("t")); err != nil {
			t.Fatalf("trickle write after %v: %v", time.Since(start), err)
		}
	}
	if n := h.closeCount(c); n != 0 {
		t.Fatalf("conn trickling a byte every %v closed before %v", idle/3, time.Since(start))
	}
	// Once the trickle stops, the timeout still applies.
	if cls := h.waitClosed(t); !errors.Is(cls.err, transport.ErrIdleTimeout) {
		t.Errorf("OnClose err = %v, want ErrIdleTimeout", cls.err)
	}
}

func TestSetIdleTimeoutZeroDisablesTimeout(t *testing.T) {
	const idle = 100 * time.Millisecond
	l := startLoop(t, nil)
	h := newRecordingHandler()
	h.open = func(c *transport.Conn) { c.SetIdleTimeout(0) } // overrides Config.IdleTimeout
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{IdleTimeout: idle})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)
	cl.SetReadDeadline(time.Now().Add(4 * idle))
	if _, err := cl.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("client read = %v, want its own deadline: the idle timeout was turned off", err)
	}
	if n := h.closeCount(c); n != 0 {
		t.Fatalf("OnClose ran with the idle timeout off")
	}
	// Turning it back on works.
	onLoop(t, l, func() { c.SetIdleTimeout(idle) })
	cl.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client read = %v, want EOF once the idle timeout is set again", err)
	}
	if cls := h.waitClosed(t); !errors.Is(cls.err, transport.ErrIdleTimeout) {
		t.Errorf("OnClose err = %v, want ErrIdleTimeout", cls.err)
	}
}

// Row 20 of RELIABILITY.md: OnData panics on one conn. That conn must close with
// an error (OnClose gets the *loop.PanicError, which OnError also hears about),
// while the loop and the other conns live on: another conn still echoes, and
// OnClose runs once for the panicking conn and never for the other.
func TestHandlerPanicClosesOnlyThatConn(t *testing.T) {
	reported := make(chan error, 16)
	l := startLoop(t, func(_ loop.Target, err error) { reported <- err })
	h := newRecordingHandler()
	h.data = func(c *transport.Conn) {
		if p, _ := c.Peek(-1); bytes.Contains(p, []byte("boom")) {
			panic("boom")
		}
		echoAll(c)
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	victimClient := dial(t, ln.Addr().String(), 0)
	victim := h.accept(t)
	otherClient := dial(t, ln.Addr().String(), 0)
	other := h.accept(t)
	expectEcho(t, victimClient, "hi")
	expectEcho(t, otherClient, "hi")

	if _, err := victimClient.Write([]byte("boom")); err != nil {
		t.Fatal(err)
	}
	expectPeerClosed(t, victimClient, "the client of the panicking conn")
	cls := h.waitClosed(t)
	var pe *loop.PanicError
	if cls.c != victim || !errors.As(cls.err, &pe) || pe.Value != "boom" {
		t.Fatalf("OnClose(%p, %v), want the panicking conn %p with a *loop.PanicError", cls.c, cls.err, victim)
	}
	if err := testutil.Recv(t, reported, waitFor, "OnError"); !errors.As(err, &pe) {
		t.Errorf("OnError got %v, want a *loop.PanicError", err)
	}
	expectEcho(t, otherClient, "still here")
	runRounds(t, l, 2)
	if n, m := h.closeCount(victim), h.closeCount(other); n != 1 || m != 0 {
		t.Errorf("OnClose ran %d times for the panicking conn and %d for the other, want 1 and 0", n, m)
	}
}

func TestOnOpenPanicClosesOnlyThatConn(t *testing.T) {
	reported := make(chan error, 16)
	l := startLoop(t, func(_ loop.Target, err error) { reported <- err })
	h := newRecordingHandler()
	var opens atomic.Int64
	h.open = func(*transport.Conn) {
		if opens.Inc() == 1 {
			panic("open boom")
		}
	}
	h.data = echoAll
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	victimClient := dial(t, ln.Addr().String(), 0)
	victim := h.accept(t)
	expectPeerClosed(t, victimClient, "the client of the conn whose OnOpen panicked")
	cls := h.waitClosed(t)
	var pe *loop.PanicError
	if cls.c != victim || !errors.As(cls.err, &pe) || pe.Value != "open boom" {
		t.Fatalf("OnClose(%p, %v), want the conn %p whose OnOpen panicked, with a *loop.PanicError", cls.c, cls.err, victim)
	}
	if err := testutil.Recv(t, reported, waitFor, "OnError"); !errors.As(err, &pe) {
		t.Errorf("OnError got %v, want a *loop.PanicError", err)
	}
	otherClient := dial(t, ln.Addr().String(), 0)
	expectEcho(t, otherClient, "next conn works")
	if n := h.closeCount(victim); n != 1 {
		t.Errorf("OnClose ran %d times for the conn whose OnOpen panicked, want 1", n)
	}
}
