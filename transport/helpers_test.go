//go:build linux

// Linux only: these tests read kernel queue sizes (SIOCINQ, SIOCOUTQ), fake accept4
// through the syscall seam, or make sockets with SOCK_CLOEXEC/SOCK_NONBLOCK flags.

package transport_test

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// smallBuf is the socket buffer size tests use to make a socket fill up after a
// few tens of KiB, so that writes reach EAGAIN deterministically (the kernel
// doubles it, and an explicit size turns buffer auto-tuning off).
const smallBuf = 16 << 10

// closeCall is one OnClose call as a recordingHandler saw it.
type closeCall struct {
	c     *transport.Conn
	err   error
	state transport.State
}

// recordingHandler is a Handler that records what the tests check and delegates the
// rest to its function fields. It runs on the loop goroutine and hands results to
// the test through channels, atomics and a mutex. With data nil, OnData consumes
// everything.
type recordingHandler struct {
	open     func(c *transport.Conn)
	data     func(c *transport.Conn)
	writable func(c *transport.Conn)
	close    func(c *transport.Conn, err error)

	opened     chan *transport.Conn // every OnOpen, before open runs
	closed     chan closeCall       // every OnClose
	onData     atomic.Int64
	onWritable atomic.Int64

	mu     sync.Mutex
	closes map[*transport.Conn]int
}

func newRecordingHandler() *recordingHandler {
	return &recordingHandler{
		opened: make(chan *transport.Conn, 1024),
		closed: make(chan closeCall, 1024),
		closes: make(map[*transport.Conn]int),
	}
}

func (h *recordingHandler) OnOpen(c *transport.Conn) {
	h.opened <- c
	if h.open != nil {
		h.open(c)
	}
}

func (h *recordingHandler) OnData(c *transport.Conn) {
	h.onData.Inc()
	if h.data != nil {
		h.data(c)
		return
	}
	c.Next(-1)
}

func (h *recordingHandler) OnWritable(c *transport.Conn) {
	h.onWritable.Inc()
	if h.writable != nil {
		h.writable(c)
	}
}

func (h *recordingHandler) OnClose(c *transport.Conn, err error) {
	h.mu.Lock()
	h.closes[c]++
	h.mu.Unlock()
	h.closed <- closeCall{c: c, err: err, state: c.State()}
	if h.close != nil {
		h.close(c, err)
	}
}

// closeCount is how many times OnClose ran for c.
func (h *recordingHandler) closeCount(c *transport.Conn) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closes[c]
}

// accept waits for the next OnOpen.
func (h *recordingHandler) accept(t testing.TB) *transport.Conn {
	t.Helper()
	return testutil.Recv(t, h.opened, waitFor, "OnOpen")
}

// waitClosed waits for the next OnClose.
func (h *recordingHandler) waitClosed(t testing.TB) closeCall {
	t.Helper()
	return testutil.Recv(t, h.closed, waitFor, "OnClose")
}

// recordingEOFHandler is a recordingHandler that also implements
// transport.EOFHandler.
type recordingEOFHandler struct {
	*recordingHandler
	eof func(c *transport.Conn)
}

func (h recordingEOFHandler) OnEOF(c *transport.Conn) { h.eof(c) }

// echoAll writes back everything buffered.
func echoAll(c *transport.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// randomPattern returns n pseudo-random bytes determined by seed, so that every
// client of a test sends something different and corruption cannot go unnoticed.
func randomPattern(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5ca1ab1e))
	p := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			p[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n &^ 7; i < n; i++ {
		p[i] = byte(r.Uint32())
	}
	return p
}

// setSndBuf shrinks the kernel send buffer of a server conn (call it in OnOpen).
func setSndBuf(t testing.TB, c *transport.Conn, n int) {
	if err := unix.SetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF, n); err != nil {
		t.Errorf("SO_SNDBUF: %v", err)
	}
}

// startSmallBufEcho starts a loop echoing on a loopback listener with small kernel
// buffers on both sides, and dials it: most of a large echo then waits in the
// server's write queue. received counts the bytes the server has read.
func startSmallBufEcho(t testing.TB) (l *loop.Loop, h *recordingHandler, received *atomic.Int64, cl *net.TCPConn) {
	l = startLoop(t, nil)
	h = newRecordingHandler()
	received = new(atomic.Int64)
	h.open = func(c *transport.Conn) { setSndBuf(t, c, smallBuf) }
	h.data = func(c *transport.Conn) {
		received.Add(int64(c.Buffered()))
		echoAll(c)
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	return l, h, received, dial(t, ln.Addr().String(), smallBuf)
}

// kernelInq returns how many bytes wait unread in the kernel for fd (SIOCINQ).
func kernelInq(t testing.TB, fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil {
		t.Errorf("SIOCINQ: %v", err)
	}
	return n
}

// readsStopped reports whether c has stopped reading: bytes wait in its socket,
// and yet a later round (with the poller level-triggered, a conn that reads would
// get a readable event in it and run OnData before that round's tasks) calls no
// OnData. It returns false when no bytes wait, since then it cannot tell.
func readsStopped(t testing.TB, l *loop.Loop, c *transport.Conn, onData *atomic.Int64) bool {
	t.Helper()
	var inq int
	var before int64
	onLoop(t, l, func() { inq, before = kernelInq(t, c.Fd()), onData.Load() })
	if inq == 0 {
		return false
	}
	onLoop(t, l, func() {})
	return onData.Load() == before
}

// runRounds lets the loop run n more rounds.
func runRounds(t testing.TB, l *loop.Loop, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		onLoop(t, l, func() {})
	}
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
