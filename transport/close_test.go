//go:build linux

// Linux only: these tests read kernel queue sizes (SIOCINQ, SIOCOUTQ), fake accept4
// through the syscall seam, or make sockets with SOCK_CLOEXEC/SOCK_NONBLOCK flags.

package transport_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// Row 5 of RELIABILITY.md: the client sends N bytes, then shuts its writing side
// (CloseWrite). The server's handler implements EOFHandler, so it must get all N
// bytes, then OnEOF, stay open (rounds later it has not closed on its own), and
// still write a reply that the client reads before its EOF.
func TestHalfCloseServerGetsAllBytesThenEOFAndCanReply(t *testing.T) {
	const size = 256 << 10
	l := startLoop(t, nil)
	h := newRecordingHandler()
	var received atomic.Int64
	h.data = func(c *transport.Conn) {
		received.Add(int64(c.Buffered()))
		c.Next(-1)
	}
	type eofSeen struct {
		received int64
		state    transport.State
	}
	eofs := make(chan eofSeen, 4)
	eh := recordingEOFHandler{recordingHandler: h, eof: func(c *transport.Conn) {
		eofs <- eofSeen{received.Load(), c.State()}
	}}
	ln := serve(t, l, "tcp", "127.0.0.1:0", eh, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)
	if _, err := cl.Write(randomPattern(5, size)); err != nil {
		t.Fatal(err)
	}
	if err := cl.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	e := testutil.Recv(t, eofs, waitFor, "OnEOF")
	if e.received != size || e.state != transport.Open {
		t.Errorf("at OnEOF: %d bytes received, state %v; want all %d and open", e.received, e.state, size)
	}

	// Rounds later the conn is still open: it does not close on its own.
	runRounds(t, l, 3)
	var state transport.State
	var closes int
	var writeErr error
	onData := h.onData.Load()
	onLoop(t, l, func() {
		state, closes = c.State(), h.closeCount(c)
		if state == transport.Open {
			_, writeErr = c.Write([]byte("reply"))
			c.Close()
		}
	})
	if state != transport.Open || closes != 0 {
		t.Fatalf("rounds after OnEOF: state %v, %d OnClose; want open, 0: the conn closed on its own", state, closes)
	}
	if writeErr != nil {
		t.Errorf("Write after the peer's EOF: %v", writeErr)
	}
	got := make([]byte, len("reply"))
	if _, err := io.ReadFull(cl, got); err != nil || string(got) != "reply" {
		t.Fatalf("client read %q, %v; want the reply before any EOF", got, err)
	}
	if n, err := cl.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("client read after the reply = %d, %v; want EOF", n, err)
	}
	cls := h.waitClosed(t)
	if cls.err != nil || cls.state != transport.Closed {
		t.Errorf("OnClose(%v) in state %v, want nil in Closed", cls.err, cls.state)
	}
	runRounds(t, l, 2)
	if n := h.closeCount(cls.c); n != 1 {
		t.Errorf("OnClose ran %d times", n)
	}
	if n := len(eofs); n != 0 {
		t.Errorf("OnEOF ran %d more times", n)
	}
	if n := h.onData.Load() - onData; n != 0 {
		t.Errorf("OnData ran %d times after OnEOF", n)
	}
}

func TestPeerEOFWithoutOnEOFClosesAfterQueuedBytesWritten(t *testing.T) {
	const size = 1 << 20
	l, h, received, cl := startSmallBufEcho(t)
	msg := randomPattern(9, size)
	// The client reads nothing yet, so when its EOF arrives most of the echo is
	// still queued on the server.
	if _, err := cl.Write(msg); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitFor, func() bool { return received.Load() == size }, "server to read everything")
	if err := cl.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(cl)
	if err != nil {
		t.Fatalf("client read: %v after %d bytes", err, len(got))
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("client got %d of %d echoed bytes before EOF (first difference at %d)", len(got), size, firstDiff(got, msg))
	}
	cls := h.waitClosed(t)
	if cls.err != nil {
		t.Errorf("OnClose err = %v, want nil after the peer's EOF", cls.err)
	}
	runRounds(t, l, 2)
	if n := h.closeCount(cls.c); n != 1 {
		t.Errorf("OnClose ran %d times", n)
	}
}

func TestCloseFlushesQueuedBytesToSlowReaderThenCloses(t *testing.T) {
	const size = 4 << 20
	l := startLoop(t, nil)
	h := newRecordingHandler()
	states := make(chan transport.State, 1)
	h.open = func(c *transport.Conn) {
		states <- c.State()
		setSndBuf(t, c, smallBuf)
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), smallBuf)
	c := h.accept(t)
	if s := testutil.Recv(t, states, waitFor, "state in OnOpen"); s != transport.Open {
		t.Errorf("State in OnOpen = %v, want open", s)
	}
	msg := randomPattern(11, size)
	var state transport.State
	var writeAfterClose, closeErr error
	onLoop(t, l, func() {
		c.Write(msg)
		closeErr = c.Close()
		state = c.State()
		_, writeAfterClose = c.Write([]byte("late"))
	})
	if closeErr != nil || state != transport.Closing {
		t.Errorf("Close with 4 MiB queued to a client not reading = %v, state %v; want nil, closing", closeErr, state)
	}
	if !errors.Is(writeAfterClose, transport.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", writeAfterClose)
	}
	runRounds(t, l, 2)
	onLoop(t, l, func() { state = c.State() })
	if state != transport.Closing || h.closeCount(c) != 0 {
		t.Errorf("state %v, OnClose ran %d times, while the client has not read; want closing and 0", state, h.closeCount(c))
	}
	got, err := io.ReadAll(cl)
	if err != nil {
		t.Fatalf("client read: %v after %d bytes", err, len(got))
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("client got %d of %d bytes before EOF (first difference at %d)", len(got), size, firstDiff(got, msg))
	}
	cls := h.waitClosed(t)
	if cls.c != c || cls.err != nil || cls.state != transport.Closed {
		t.Errorf("OnClose(%v) in state %v, want nil in Closed", cls.err, cls.state)
	}
}

func TestCloseWriteSendsEOFButKeepsReading(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	got := make(chan string, 4)
	writeErrs := make(chan error, 4)
	h.open = func(c *transport.Conn) {
		c.Write([]byte("bye"))
		if err := c.CloseWrite(); err != nil {
			t.Errorf("CloseWrite: %v", err)
		}
	}
	h.data = func(c *transport.Conn) {
		b, _ := c.Next(-1)
		got <- string(b)
		_, err := c.Write([]byte("x"))
		writeErrs <- err
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	b, err := io.ReadAll(cl)
	if err != nil || string(b) != "bye" {
		t.Fatalf("client read %q, %v; want %q then EOF", b, err, "bye")
	}
	if _, err := cl.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	if s := testutil.Recv(t, got, waitFor, "OnData after CloseWrite"); s != "still here" {
		t.Errorf("server read %q after CloseWrite, want %q", s, "still here")
	}
	if err := testutil.Recv(t, writeErrs, waitFor, "Write result"); !errors.Is(err, transport.ErrWriteShut) {
		t.Errorf("Write after CloseWrite = %v, want ErrWriteShut", err)
	}
	cl.CloseWrite()
	if cls := h.waitClosed(t); cls.err != nil {
		t.Errorf("OnClose err = %v, want nil once both sides are shut", cls.err)
	}
}

func TestAbortResetsPeerAndReportsErrAborted(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)
	var abortErr error
	var state transport.State
	onLoop(t, l, func() {
		c.Write(bytes.Repeat([]byte("q"), 64<<10)) // dropped by Abort
		abortErr = c.Abort()
		state = c.State()
	})
	if abortErr != nil || state != transport.Closed {
		t.Errorf("Abort = %v, state %v; want nil, closed", abortErr, state)
	}
	b, err := io.ReadAll(cl)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client read after Abort = %d bytes, %v; want connection reset by peer", len(b), err)
	}
	cls := h.waitClosed(t)
	if !errors.Is(cls.err, transport.ErrAborted) {
		t.Errorf("OnClose err = %v, want ErrAborted", cls.err)
	}
	runRounds(t, l, 2)
	if n := h.closeCount(c); n != 1 {
		t.Errorf("OnClose ran %d times", n)
	}
}

// isResetOrPipe reports whether err is what a write to a reset conn fails with.
func isResetOrPipe(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Row 3 of RELIABILITY.md: the peer sets SO_LINGER {1, 0} and closes (a reset)
// while the server writes: 1 MiB queued again each time the queue drains, plus
// eight 1 MiB AsyncWrites. The reset must be reported once, to OnClose only (an
// OnError fails the test); the AsyncWrites still queued must fail with it, each
// callback once; and nothing may leak: the conn leaves the loop, holds no
// buffer, and its fd is closed.
func TestPeerResetMidWriteReportsOnce(t *testing.T) {
	const asyncWrites = 8
	l := startLoop(t, nil) // any OnError fails the test: the error goes to OnClose only
	h := newRecordingHandler()
	chunk := randomPattern(3, 1<<20)
	h.open = func(c *transport.Conn) {
		setSndBuf(t, c, smallBuf)
		c.Write(chunk)
		c.DeferWrite()
	}
	h.writable = func(c *transport.Conn) { // another MiB each time the queue drains
		c.Write(chunk)
		c.DeferWrite()
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)
	var targets int
	var dev, ino uint64
	onLoop(t, l, func() {
		targets = l.Stats().Targets
		dev, ino = fileID(t, c.Fd())
	})
	dones := make(chan error, 2*asyncWrites)
	for i := 0; i < asyncWrites; i++ {
		if err := c.AsyncWrite(chunk, func(err error) { dones <- err }); err != nil {
			t.Fatalf("AsyncWrite: %v", err)
		}
	}
	if _, err := io.ReadFull(cl, make([]byte, 256<<10)); err != nil {
		t.Fatal(err)
	}
	if err := cl.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	cl.Close() // a reset, with the server in the middle of writing

	cls := h.waitClosed(t)
	if cls.c != c || !isResetOrPipe(cls.err) {
		t.Errorf("OnClose err = %v, want ECONNRESET or EPIPE", cls.err)
	}
	failed := 0
	for i := 0; i < asyncWrites; i++ {
		err := testutil.Recv(t, dones, waitFor, "AsyncWrite callback")
		if err != nil {
			failed++
			if !isResetOrPipe(err) {
				t.Errorf("AsyncWrite callback err = %v, want the reset", err)
			}
		}
	}
	if failed == 0 {
		t.Errorf("every AsyncWrite reported success, yet the client read 256 KiB of 9 MiB and reset")
	}
	runRounds(t, l, 3)
	if n := h.closeCount(c); n != 1 {
		t.Errorf("OnClose ran %d times", n)
	}
	if extra := len(dones); extra != 0 {
		t.Errorf("%d AsyncWrite callbacks ran a second time", extra)
	}
	var queued, buffered, targetsAfter int
	var sameFile bool
	onLoop(t, l, func() {
		queued, buffered, targetsAfter = c.Queued(), c.Buffered(), l.Stats().Targets
		sameFile = isSameFile(c.Fd(), dev, ino)
	})
	if queued != 0 || buffered != 0 || targetsAfter != targets-1 || sameFile {
		t.Errorf("after the reset: %d bytes queued, %d buffered, %d targets (was %d), fd still open: %v; want 0, 0, one fewer, false",
			queued, buffered, targetsAfter, targets, sameFile)
	}
}

// Row 4 of RELIABILITY.md: with signal.Notify(SIGPIPE) on, the server writes to
// conns the peer has reset, once through Write (flushed at the end of the round)
// and once through Send. The first error after a reset is ECONNRESET, which
// raises nothing, so the test consumes it first (SO_ERROR) and each write is the
// second one, the EPIPE that raises SIGPIPE unless the write says MSG_NOSIGNAL.
// No SIGPIPE may arrive; a plain write to a broken socket shows one would.
func TestWriteToResetConnRaisesNoSIGPIPE(t *testing.T) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGPIPE)
	defer signal.Stop(sigs)

	l := startLoop(t, nil)
	h := newRecordingHandler()
	// Paused conns are out of the poller, so the loop does not see the reset and
	// close them before the writes below reach the kernel.
	h.open = func(c *transport.Conn) { c.PauseRead() }
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	var conns [2]*transport.Conn
	for i := range conns {
		cl := dial(t, ln.Addr().String(), 0)
		conns[i] = h.accept(t)
		cl.SetLinger(0)
		cl.Close()
	}
	// A first write after a reset fails with ECONNRESET and closes the conn, so
	// consume that pending error (SO_ERROR) first: the next write then fails with
	// EPIPE, the one that raises SIGPIPE unless the write says MSG_NOSIGNAL.
	for _, c := range conns {
		testutil.Eventually(t, waitFor, func() bool {
			var soErr int
			onLoop(t, l, func() { soErr, _ = unix.GetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_ERROR) })
			return syscall.Errno(soErr) == syscall.ECONNRESET
		}, "the reset to reach the server")
	}
	var writeErr, sendErr error
	onLoop(t, l, func() {
		_, writeErr = conns[0].Write([]byte("one")) // queued; written at the end of the round
		_, sendErr = conns[1].Send([]byte("two"))
	})
	if writeErr != nil || !errors.Is(sendErr, syscall.EPIPE) {
		t.Errorf("Write = %v, Send = %v; want nil (queued) and EPIPE", writeErr, sendErr)
	}
	for range conns {
		if cls := h.waitClosed(t); !errors.Is(cls.err, syscall.EPIPE) {
			t.Errorf("OnClose err = %v, want EPIPE", cls.err)
		}
	}
	select {
	case s := <-sigs:
		t.Fatalf("got %v from a write to a reset conn", s)
	case <-time.After(200 * time.Millisecond):
	}

	// Control: a plain write to a broken socket does raise SIGPIPE, so the check
	// above could have seen one.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(pair[1])
	_, err = unix.Write(pair[0], []byte("x"))
	unix.Close(pair[0])
	if err != unix.EPIPE {
		t.Fatalf("control write = %v, want EPIPE", err)
	}
	testutil.Recv(t, sigs, waitFor, "SIGPIPE from the control write")
}

// Row 9 of RELIABILITY.md: 100 goroutines call AsyncWrite and AsyncClose on one
// conn while its client writes and reads (run it with -race). OnClose must run
// exactly once and every AsyncWrite callback once (those refused on the closed
// conn before AsyncWrite returns); and there must be no second
// close(2): the seam counts one sys.Close for the conn's fd, and a fresh fd that
// takes the freed number survives a second burst on the closed conn.
func TestAsyncCloseFromManyGoroutinesClosesOnce(t *testing.T) {
	const goroutines, writesEach = 100, 4
	closes := countCloses(t)
	l := startLoop(t, nil)
	h := newRecordingHandler()
	h.data = echoAll
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)

	// The client writes and reads throughout, until the server closes.
	clientDone := make(chan struct{}, 2)
	go func() {
		p := bytes.Repeat([]byte("c"), 4<<10)
		for {
			if _, err := cl.Write(p); err != nil {
				break
			}
		}
		clientDone <- struct{}{}
	}()
	go func() {
		io.Copy(io.Discard, cl)
		clientDone <- struct{}{}
	}()

	burst := func(calls []atomic.Int32) (refused int64) {
		var refusedN atomic.Int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for k := 0; k < writesEach; k++ {
					i := g*writesEach + k
					// Once the conn has closed AsyncWrite refuses at once (done has run).
					if err := c.AsyncWrite([]byte("async"), func(error) { calls[i].Inc() }); err != nil && err != transport.ErrClosed {
						refusedN.Inc()
					}
					if k == writesEach/2 {
						c.AsyncClose()
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		runRounds(t, l, 2) // every task submitted above has run
		return refusedN.Load()
	}
	checkOnce := func(what string, calls []atomic.Int32) {
		t.Helper()
		for i := range calls {
			if n := calls[i].Load(); n != 1 {
				t.Errorf("%s: AsyncWrite callback %d ran %d times, want 1", what, i, n)
			}
		}
	}

	calls := make([]atomic.Int32, goroutines*writesEach)
	if refused := burst(calls); refused != 0 {
		t.Errorf("%d AsyncWrites refused on a running loop with an error other than ErrClosed", refused)
	}
	cls := h.waitClosed(t)
	if cls.c != c || cls.err != nil {
		t.Errorf("OnClose err = %v, want nil (AsyncClose is Close)", cls.err)
	}
	runRounds(t, l, 2)
	checkOnce("first burst", calls)
	for range 2 {
		testutil.Recv(t, clientDone, waitFor, "client goroutines to see the close")
	}

	// The conn's fd is closed now. Open fds (the kernel hands out the lowest free
	// number) until one takes its number: that fresh fd must survive a second
	// burst on the closed conn.
	connFd := c.Fd()
	if n := closes.of(connFd); n != 1 {
		t.Errorf("fd %d closed %d times through sys.Close after the first burst, want 1", connFd, n)
	}
	fresh := takeFdNumber(t, connFd)
	var freshDev, freshIno uint64
	if fresh >= 0 {
		defer unix.Close(fresh)
		freshDev, freshIno = fileID(t, fresh)
	} else {
		t.Logf("fd %d was reused before the test could take it; relying on the close count", connFd)
	}
	calls2 := make([]atomic.Int32, goroutines*writesEach)
	burst(calls2)
	runRounds(t, l, 3)
	checkOnce("burst after close", calls2)
	if fresh >= 0 && !isSameFile(fresh, freshDev, freshIno) {
		t.Errorf("fresh fd %d, which took the closed conn's number, was closed behind its owner's back", fresh)
	}
	if n := closes.of(connFd); n != 1 {
		t.Errorf("fd %d closed %d times through sys.Close, want exactly 1", connFd, n)
	}
	if n := h.closeCount(c); n != 1 {
		t.Errorf("OnClose ran %d times, want 1", n)
	}
}

func TestAsyncWriteAfterLoopCloseFailsWithErrClosed(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	c := h.accept(t)
	if err := l.Close(); err != nil {
		t.Fatalf("loop Close: %v", err)
	}
	if cls := h.waitClosed(t); cls.c != c || !errors.Is(cls.err, loop.ErrClosed) {
		t.Errorf("OnClose at loop Close = %v, want loop.ErrClosed", cls.err)
	}
	dones := make(chan error, 2)
	err := c.AsyncWrite([]byte("late"), func(err error) { dones <- err })
	if !errors.Is(err, transport.ErrClosed) {
		t.Errorf("AsyncWrite after loop Close = %v, want ErrClosed", err)
	}
	if len(dones) != 1 {
		t.Fatalf("done ran %d times before AsyncWrite returned, want 1", len(dones))
	}
	if err := <-dones; !errors.Is(err, transport.ErrClosed) {
		t.Errorf("done got %v, want ErrClosed", err)
	}
	if err := c.AsyncClose(); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("AsyncClose after loop Close = %v, want ErrClosed", err)
	}
	expectPeerClosed(t, cl, "the client of the conn closed with the loop")
}

// numberedBlock is AsyncWrite number i of
// TestQueuedAsyncWritesEachCallbackRunsOnce: its index, then the index's low byte
// repeated.
func numberedBlock(i, size int) []byte {
	b := bytes.Repeat([]byte{byte(i)}, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// Row 8 of RELIABILITY.md (the Close half; Shutdown is shard's): 10k AsyncWrites
// of 1 KiB are queued to a peer that reads nothing through 16 KiB buffers, then
// the conn is closed. With Abort, the queued writes fail with ErrAborted; with
// Close, they are all written (the peer then reads) before OnClose. Either way
// every callback runs exactly once, in order, nil for the written ones.
func TestQueuedAsyncWritesEachCallbackRunsOnce(t *testing.T) {
	const writes, size = 10000, 1 << 10
	for _, mode := range []string{"AbortFailsTheRest", "CloseWritesThemAll"} {
		t.Run(mode, func(t *testing.T) {
			l := startLoop(t, nil)
			h := newRecordingHandler()
			h.open = func(c *transport.Conn) { setSndBuf(t, c, smallBuf) }
			ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
			cl := dial(t, ln.Addr().String(), smallBuf) // reads nothing until told
			c := h.accept(t)

			calls := make([]atomic.Int32, writes)
			var order []int     // loop goroutine only
			var results []error // loop goroutine only
			for i := 0; i < writes; i++ {
				err := c.AsyncWrite(numberedBlock(i, size), func(err error) {
					calls[i].Inc()
					order = append(order, i)
					results = append(results, err)
				})
				if err != nil {
					t.Fatalf("AsyncWrite %d: %v", i, err)
				}
			}
			var doneEarly int
			onLoop(t, l, func() { doneEarly = len(order) })
			t.Logf("%d callbacks ran before the client read anything", doneEarly)
			// The kernel holds some tens of KiB; done(nil) means "written".
			if doneEarly > writes/10 {
				t.Errorf("%d of %d callbacks ran with a client reading nothing and 16 KiB buffers", doneEarly, writes)
			}

			var state transport.State
			if mode == "AbortFailsTheRest" {
				onLoop(t, l, func() { c.Abort() })
			} else {
				onLoop(t, l, func() { c.Close(); state = c.State() })
				if state != transport.Closing {
					t.Errorf("state after Close with 10 MiB queued = %v, want closing", state)
				}
				got, err := io.ReadAll(cl)
				if err != nil {
					t.Fatalf("client read: %v after %d bytes", err, len(got))
				}
				if len(got) != writes*size {
					t.Fatalf("client got %d bytes, want %d", len(got), writes*size)
				}
				for i := 0; i < writes; i++ {
					if !bytes.Equal(got[i*size:(i+1)*size], numberedBlock(i, size)) {
						t.Fatalf("block %d out of order or corrupted", i)
					}
				}
			}
			cls := h.waitClosed(t)
			runRounds(t, l, 2)
			var gotOrder []int
			var gotResults []error
			onLoop(t, l, func() { gotOrder, gotResults = append(gotOrder, order...), append(gotResults, results...) })

			for i := range calls {
				if n := calls[i].Load(); n != 1 {
					t.Fatalf("callback %d ran %d times, want 1", i, n)
				}
			}
			ok := 0
			for k, i := range gotOrder {
				if i != k {
					t.Fatalf("callback %d ran in position %d", i, k)
				}
				switch err := gotResults[k]; {
				case err == nil && ok == k:
					ok++
				case err == nil:
					t.Fatalf("callback %d succeeded after an earlier one failed", i)
				case mode == "CloseWritesThemAll" || !errors.Is(err, transport.ErrAborted):
					t.Fatalf("callback %d got %v", i, err)
				}
			}
			if mode == "AbortFailsTheRest" {
				if !errors.Is(cls.err, transport.ErrAborted) {
					t.Errorf("OnClose err = %v, want ErrAborted", cls.err)
				}
				if ok < doneEarly || ok == writes {
					t.Errorf("%d callbacks succeeded (%d before Abort) of %d", ok, doneEarly, writes)
				}
			} else if cls.err != nil || ok != writes {
				t.Errorf("OnClose err = %v with %d of %d callbacks nil, want nil and all", cls.err, ok, writes)
			}
		})
	}
}
