//go:build linux

// Linux only: these tests read kernel queue sizes (SIOCINQ, SIOCOUTQ), fake accept4
// through the syscall seam, or make sockets with SOCK_CLOEXEC/SOCK_NONBLOCK flags.

package transport_test

import (
	"errors"
	"math/rand/v2"
	"net"
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

// bWait bounds every wait for an event. It is generous because the race detector
// on two cores is slow; a passing test never waits this long.
const bWait = 10 * time.Second

// bSmallBuf is the socket buffer size tests use to make a socket fill up after a
// few tens of KiB, so that writes reach EAGAIN deterministically (the kernel
// doubles it, and an explicit size turns buffer auto-tuning off).
const bSmallBuf = 16 << 10

// bStartLoop is aStartLoop whose OnError fails the test unless onError is given.
func bStartLoop(t testing.TB, onError func(loop.Target, error)) *loop.Loop {
	t.Helper()
	if onError == nil {
		onError = func(tg loop.Target, err error) { t.Errorf("unexpected loop OnError(%T, %v)", tg, err) }
	}
	return aStartLoop(t, loop.Config{OnError: onError})
}

// bServe listens on network/address and serves h on l; the listener is closed
// when the test ends.
func bServe(t testing.TB, l *loop.Loop, network, address string, h transport.Handler, cfg transport.Config) *transport.Listener {
	t.Helper()
	ln, err := transport.Listen(network, address, transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		t.Fatalf("Listen(%s, %s): %v", network, address, err)
	}
	t.Cleanup(func() { ln.Close() })
	var serveErr error
	aOnLoop(t, l, func() { serveErr = ln.Serve(l, h, cfg) })
	if serveErr != nil {
		t.Fatalf("Serve: %v", serveErr)
	}
	return ln
}

// bDial connects a plain net client to addr with a deadline of bWait on every
// read and write; rcvBuf > 0 sets SO_RCVBUF before the connect (so the window is
// small from the start). It is closed when the test ends.
func bDial(t testing.TB, addr string, rcvBuf int) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: bWait}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("Dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(bWait))
	return c.(*net.TCPConn)
}

// bClosed is one OnClose call as a bHandler saw it.
type bClosed struct {
	c     *transport.Conn
	err   error
	state transport.State
}

// bHandler is a Handler that records what the tests check and delegates the
// rest to its function fields. It runs on the loop goroutine and hands results to
// the test through channels, atomics and a mutex. With data nil, OnData consumes
// everything.
type bHandler struct {
	open     func(c *transport.Conn)
	data     func(c *transport.Conn)
	writable func(c *transport.Conn)
	close    func(c *transport.Conn, err error)

	opened     chan *transport.Conn // every OnOpen, before open runs
	closed     chan bClosed         // every OnClose
	onData     atomic.Int64
	onWritable atomic.Int64

	mu     sync.Mutex
	closes map[*transport.Conn]int
}

func bNewHandler() *bHandler {
	return &bHandler{
		opened: make(chan *transport.Conn, 1024),
		closed: make(chan bClosed, 1024),
		closes: make(map[*transport.Conn]int),
	}
}

func (h *bHandler) OnOpen(c *transport.Conn) {
	h.opened <- c
	if h.open != nil {
		h.open(c)
	}
}

func (h *bHandler) OnData(c *transport.Conn) {
	h.onData.Inc()
	if h.data != nil {
		h.data(c)
		return
	}
	c.Next(-1)
}

func (h *bHandler) OnWritable(c *transport.Conn) {
	h.onWritable.Inc()
	if h.writable != nil {
		h.writable(c)
	}
}

func (h *bHandler) OnClose(c *transport.Conn, err error) {
	h.mu.Lock()
	h.closes[c]++
	h.mu.Unlock()
	h.closed <- bClosed{c: c, err: err, state: c.State()}
	if h.close != nil {
		h.close(c, err)
	}
}

// closeCount is how many times OnClose ran for c.
func (h *bHandler) closeCount(c *transport.Conn) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closes[c]
}

// accept waits for the next OnOpen.
func (h *bHandler) accept(t testing.TB) *transport.Conn {
	t.Helper()
	return testutil.Recv(t, h.opened, bWait, "OnOpen")
}

// waitClosed waits for the next OnClose.
func (h *bHandler) waitClosed(t testing.TB) bClosed {
	t.Helper()
	return testutil.Recv(t, h.closed, bWait, "OnClose")
}

// bEOFHandler is a bHandler that also implements transport.EOFHandler.
type bEOFHandler struct {
	*bHandler
	eof func(c *transport.Conn)
}

func (h bEOFHandler) OnEOF(c *transport.Conn) { h.eof(c) }

// bEcho writes back everything buffered.
func bEcho(c *transport.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// bPattern returns n pseudo-random bytes determined by seed, so that every client
// of a test sends something different and corruption cannot go unnoticed.
func bPattern(seed uint64, n int) []byte {
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

// bSetSndBuf shrinks the kernel send buffer of a server conn (call it in OnOpen).
func bSetSndBuf(t testing.TB, c *transport.Conn, n int) {
	if err := unix.SetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF, n); err != nil {
		t.Errorf("SO_SNDBUF: %v", err)
	}
}

// bSmallBufEcho starts a loop echoing on a loopback listener with small kernel
// buffers on both sides, and dials it: most of a large echo then waits in the
// server's write queue. received counts the bytes the server has read.
func bSmallBufEcho(t testing.TB) (l *loop.Loop, h *bHandler, received *atomic.Int64, cl *net.TCPConn) {
	l = bStartLoop(t, nil)
	h = bNewHandler()
	received = new(atomic.Int64)
	h.open = func(c *transport.Conn) { bSetSndBuf(t, c, bSmallBuf) }
	h.data = func(c *transport.Conn) {
		received.Add(int64(c.Buffered()))
		bEcho(c)
	}
	ln := bServe(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	return l, h, received, bDial(t, ln.Addr().String(), bSmallBuf)
}

// bInq returns how many bytes wait unread in the kernel for fd (SIOCINQ).
func bInq(t testing.TB, fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil {
		t.Errorf("SIOCINQ: %v", err)
	}
	return n
}

// bReadsStopped reports whether c has stopped reading: bytes wait in its socket,
// and yet a later round (with the poller level-triggered, a conn that reads would
// get a readable event in it and run OnData before that round's tasks) calls no
// OnData. It returns false when no bytes wait, since then it cannot tell.
func bReadsStopped(t testing.TB, l *loop.Loop, c *transport.Conn, onData *atomic.Int64) bool {
	t.Helper()
	var inq int
	var before int64
	aOnLoop(t, l, func() { inq, before = bInq(t, c.Fd()), onData.Load() })
	if inq == 0 {
		return false
	}
	aOnLoop(t, l, func() {})
	return onData.Load() == before
}

// bRounds lets the loop run n more rounds.
func bRounds(t testing.TB, l *loop.Loop, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		aOnLoop(t, l, func() {})
	}
}

// bIsTimeout reports whether err is a deadline expiry.
func bIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
