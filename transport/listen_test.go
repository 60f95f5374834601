package transport_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
	"github.com/sycamore-go/sycamore/transport"
)

// waitFor bounds every wait for an event in these tests. It is generous because
// the race detector on two cores is slow; a passing test never waits this long.
const waitFor = 10 * time.Second

// startLoop creates an unpinned loop and runs it in a goroutine of its own. When
// the test ends the loop is stopped, Run is awaited (bounded) and the loop closed.
// onError is the loop's OnError; with onError nil, any error the loop reports
// fails the test (logLoopErrors only logs them).
func startLoop(t testing.TB, onError func(loop.Target, error)) *loop.Loop {
	t.Helper()
	if onError == nil {
		onError = func(tg loop.Target, err error) { t.Errorf("unexpected loop OnError(%T, %v)", tg, err) }
	}
	l, err := loop.New(loop.Config{CPU: loop.NoPin, OnError: onError})
	if err != nil {
		t.Fatalf("loop.New: %v", err)
	}
	ran := make(chan error, 1)
	go func() { ran <- l.Run(context.Background()) }()
	t.Cleanup(func() {
		l.Stop()
		select {
		case err := <-ran:
			if err != nil && !errors.Is(err, loop.ErrClosed) { // a test may close the loop itself
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitFor):
			t.Errorf("Run did not return within %v of Stop", waitFor)
			return
		}
		if err := l.Close(); err != nil && !errors.Is(err, loop.ErrClosed) {
			t.Errorf("loop Close: %v", err)
		}
	})
	return l
}

// logLoopErrors is a loop OnError, for startLoop, that logs every error the loop
// reports instead of failing the test.
func logLoopErrors(t testing.TB) func(loop.Target, error) {
	return func(tg loop.Target, err error) { t.Logf("loop OnError(%T): %v", tg, err) }
}

// onLoop runs f on l's goroutine and waits (bounded) until it has returned.
func onLoop(t testing.TB, l *loop.Loop, f func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Submit(func() { defer close(done); f() }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	testutil.Recv(t, done, waitFor, "a task on the loop")
}

// listen opens a listener on network/address (a kernel-chosen loopback port with
// "tcp", "127.0.0.1:0"), closed when the test ends.
func listen(t testing.TB, network, address string) *transport.Listener {
	t.Helper()
	ln, err := transport.Listen(network, address, transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		t.Fatalf("Listen(%s, %s): %v", network, address, err)
	}
	t.Cleanup(func() {
		if err := ln.Close(); err != nil && !errors.Is(err, transport.ErrClosed) {
			t.Errorf("Listener Close: %v", err)
		}
	})
	return ln
}

// serve listens on network/address and serves h on the running loop l; the
// listener is closed when the test ends.
func serve(t testing.TB, l *loop.Loop, network, address string, h transport.Handler, cfg transport.Config) *transport.Listener {
	t.Helper()
	ln := listen(t, network, address)
	var err error
	onLoop(t, l, func() { err = ln.Serve(l, h, cfg) })
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	return ln
}

// dial is dialNetwork over TCP, for a test that needs the *net.TCPConn
// (CloseWrite, SetLinger, SyscallConn).
func dial(t testing.TB, addr string, rcvBuf int) *net.TCPConn {
	t.Helper()
	return dialNetwork(t, "tcp", addr, rcvBuf).(*net.TCPConn)
}

// dialNetwork connects a plain net client to address with a deadline of
// 2*waitFor on every read and write (it is set once, here, and a test may wait on
// the conn more than once); rcvBuf > 0 sets SO_RCVBUF before the connect (so the
// window is small from the start). It is closed when the test ends.
func dialNetwork(t testing.TB, network, address string, rcvBuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: waitFor}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial(network, address)
	if err != nil {
		t.Fatalf("Dial(%s, %s): %v", network, address, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(2 * waitFor))
	return c
}

// expectEcho writes msg on c and fails the test unless the same bytes come back.
func expectEcho(t testing.TB, c io.ReadWriter, msg string) {
	t.Helper()
	what := strconv.Quote(msg)
	if len(msg) > 64 {
		what = strconv.Itoa(len(msg)) + " bytes"
	}
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("client write of %s: %v", what, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("client read of the echo of %s: %v", what, err)
	}
	if string(got) != msg {
		if len(msg) > 64 {
			t.Fatalf("the echo of %s differs from what was sent", what)
		}
		t.Fatalf("echo: got %q, want %q", got, msg)
	}
}

// expectPeerClosed fails the test unless a read on c ends with EOF or a reset
// (not a timeout, waitFor from now): the server closed the connection. Bytes read
// before that are discarded; what names c in a failure.
func expectPeerClosed(t testing.TB, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitFor))
	var buf [64]byte
	for {
		n, err := c.Read(buf[:])
		if n > 0 {
			continue
		}
		if err == io.EOF || errors.Is(err, syscall.ECONNRESET) {
			return
		}
		t.Fatalf("%s: read returned %d, %v; want EOF or a reset", what, n, err)
	}
}

// funcHandler is a Handler made of optional functions.
type funcHandler struct {
	open  func(c *transport.Conn)
	data  func(c *transport.Conn)
	close func(c *transport.Conn, err error)
}

func (h *funcHandler) OnOpen(c *transport.Conn) {
	if h.open != nil {
		h.open(c)
	}
}

func (h *funcHandler) OnData(c *transport.Conn) {
	if h.data != nil {
		h.data(c)
	}
}

func (h *funcHandler) OnWritable(*transport.Conn) {}

func (h *funcHandler) OnClose(c *transport.Conn, err error) {
	if h.close != nil {
		h.close(c, err)
	}
}

// roundEndBlocker is a loop target (an fd of /dev/null, kept out of the poller)
// whose OnRoundEnd, once until says so, holds the loop inside the end of its
// round: after the round's events and tasks, before the fds released during the
// round are closed.
type roundEndBlocker struct {
	fd      int
	reg     *loop.Registration
	until   func() bool
	entered chan struct{}
	release chan struct{}
}

func (b *roundEndBlocker) Fd() int                  { return b.fd }
func (b *roundEndBlocker) HandleEvent(poller.Event) {}

func (b *roundEndBlocker) OnRoundEnd() {
	if !b.until() {
		b.reg.AtRoundEnd() // ask again at the end of the next round
		return
	}
	close(b.entered)
	select {
	case <-b.release:
	case <-time.After(waitFor):
	}
}

// register puts the blocker on l (which closes its fd when it closes) and asks
// for its first round-end call. Loop goroutine only.
func (b *roundEndBlocker) register(t testing.TB, l *loop.Loop) {
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", os.DevNull, err)
	}
	b.fd = fd
	if err := l.Register(b, 0); err != nil {
		unix.Close(fd)
		t.Fatalf("Register: %v", err)
	}
	b.reg = l.Handle(b)
	b.reg.AtRoundEnd()
}

func TestListenerCloseFromOtherGoroutineReturnsAfterFdReleased(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	ln := serve(t, l, "tcp", "127.0.0.1:0", echoHandler{}, transport.Config{})
	addr := ln.Addr().String()
	expectEcho(t, dial(t, addr, 0), "before close")

	// Hold the loop at the end of the round in which the listener is closed, after
	// the close task has run but before the round closes released fds. A Close that
	// returns here returns before the listening socket is gone.
	blocker := &roundEndBlocker{
		until:   func() bool { return !transport.ListenerRegistered(ln) }, // the close task ran
		entered: make(chan struct{}),
		release: make(chan struct{}),
	}
	onLoop(t, l, func() { blocker.register(t, l) })
	closed := make(chan error, 1)
	go func() { closed <- ln.Close() }()
	testutil.Recv(t, blocker.entered, waitFor, "the round in which the listener closes")

	select {
	case err := <-closed:
		// Close returned while the round is still running: that is fine only if the
		// listening socket is already gone.
		c, dialErr := net.DialTimeout("tcp", addr, time.Second)
		if dialErr == nil {
			c.Close()
		}
		close(blocker.release)
		if err != nil || !errors.Is(dialErr, syscall.ECONNREFUSED) {
			t.Errorf("Listener.Close (err %v) returned before the listening fd was closed: "+
				"a Dial after Close got err %v, want connection refused", err, dialErr)
		}
		return
	case <-time.After(300 * time.Millisecond):
		// Close is still waiting, as it should while the fd is open.
	}
	close(blocker.release)
	if err := testutil.Recv(t, closed, waitFor, "Listener.Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Fatal("Dial after Close connected; want connection refused")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial after Close: %v, want connection refused", err)
	}
}

func TestListenerCloseTwiceReturnsErrClosed(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	ln := serve(t, l, "tcp", "127.0.0.1:0", echoHandler{}, transport.Config{})
	closed := make(chan error, 1)
	go func() { closed <- ln.Close() }() // from a goroutine that is not the loop's
	if err := testutil.Recv(t, closed, waitFor, "Listener.Close"); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := ln.Close(); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	var onLoopErr error
	onLoop(t, l, func() { onLoopErr = ln.Close() })
	if !errors.Is(onLoopErr, transport.ErrClosed) {
		t.Fatalf("third Close, on the loop: %v, want ErrClosed", onLoopErr)
	}
}

func TestListenerServeTwiceFails(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	ln := serve(t, l, "tcp", "127.0.0.1:0", echoHandler{}, transport.Config{})
	other := startLoop(t, logLoopErrors(t))
	var again, elsewhere error
	onLoop(t, l, func() { again = ln.Serve(l, echoHandler{}, transport.Config{}) })
	onLoop(t, other, func() { elsewhere = ln.Serve(other, echoHandler{}, transport.Config{}) })
	if again == nil {
		t.Error("second Serve on the same loop succeeded; want an error")
	}
	if elsewhere == nil {
		t.Error("second Serve on another loop succeeded; want an error")
	}
	expectEcho(t, dial(t, ln.Addr().String(), 0), "still served")
}

func TestListenerServeAfterCloseReturnsErrClosed(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	ln := listen(t, "tcp", "127.0.0.1:0")
	if err := ln.Close(); err != nil {
		t.Fatalf("Close of an unserved listener: %v", err)
	}
	var err error
	onLoop(t, l, func() { err = ln.Serve(l, echoHandler{}, transport.Config{}) })
	if !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Serve after Close: %v, want ErrClosed", err)
	}
	if err := ln.Serve(l, nil, transport.Config{}); err == nil {
		t.Fatal("Serve with a nil Handler succeeded")
	}
}

func TestListenerCloseRemovesUnixSocketPath(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	for _, served := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "s.sock")
		ln, err := transport.Listen("unix", path, transport.ListenConfig{})
		if err != nil {
			t.Fatalf("Listen unix: %v", err)
		}
		if _, err := os.Stat(path); err != nil {
			ln.Close()
			t.Fatalf("socket path after Listen: %v", err)
		}
		if served {
			var serveErr error
			onLoop(t, l, func() { serveErr = ln.Serve(l, echoHandler{}, transport.Config{}) })
			if serveErr != nil {
				ln.Close()
				t.Fatalf("Serve: %v", serveErr)
			}
			c, err := net.DialTimeout("unix", path, waitFor)
			if err != nil {
				ln.Close()
				t.Fatalf("Dial unix: %v", err)
			}
			c.SetDeadline(time.Now().Add(waitFor))
			expectEcho(t, c, "over a unix socket")
			c.Close()
		}
		if err := ln.Close(); err != nil {
			t.Fatalf("Close (served %v): %v", served, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("served %v: socket path after Close: Stat err %v, want not exist", served, err)
		}
	}
}

func TestListenerReusePortLetsTwoListenersBindOnePort(t *testing.T) {
	first, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{ReusePort: true})
	if err != nil {
		t.Fatalf("first Listen: %v", err)
	}
	defer first.Close()
	addr := first.Addr().String()
	second, err := transport.Listen("tcp", addr, transport.ListenConfig{ReusePort: true})
	if err != nil {
		t.Fatalf("second Listen on %s with ReusePort: %v", addr, err)
	}
	defer second.Close()
	if second.Addr().String() != addr {
		t.Errorf("second listener bound %v, want %s", second.Addr(), addr)
	}
	// Without SO_REUSEPORT the port is taken.
	if third, err := transport.Listen("tcp", addr, transport.ListenConfig{}); err == nil {
		third.Close()
		t.Errorf("a third Listen on %s without ReusePort succeeded; want EADDRINUSE", addr)
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("third Listen: %v, want EADDRINUSE", err)
	}
}

func TestListenerAddrReportsKernelChosenPort(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	ln := serve(t, l, "tcp", "127.0.0.1:0", echoHandler{}, transport.Config{})
	a, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("Addr is %T, want *net.TCPAddr", ln.Addr())
	}
	if a.Port == 0 || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("Addr %v: want 127.0.0.1 and a non-zero port", a)
	}
	expectEcho(t, dial(t, a.String(), 0), "to the reported port")
}

func TestListenerDualStackAcceptsIPv4Client(t *testing.T) {
	ln, err := transport.Listen("tcp", ":0", transport.ListenConfig{ReuseAddr: true})
	if errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Skipf("no IPv6 here: %v", err)
	}
	if err != nil {
		t.Fatalf("Listen tcp :0: %v", err)
	}
	l := startLoop(t, logLoopErrors(t))
	t.Cleanup(func() { ln.Close() })
	var serveErr error
	onLoop(t, l, func() { serveErr = ln.Serve(l, echoHandler{}, transport.Config{}) })
	if serveErr != nil {
		t.Fatalf("Serve: %v", serveErr)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if port == 0 {
		t.Fatalf("Addr %v has port 0", ln.Addr())
	}
	expectEcho(t, dial(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 0), "IPv4 to a dual-stack listener")
}

func TestListenBadNetworkReturnsErrNetwork(t *testing.T) {
	for _, network := range []string{"udp", "ip4", "unixgram", ""} {
		ln, err := transport.Listen(network, "127.0.0.1:0", transport.ListenConfig{})
		if err == nil {
			ln.Close()
			t.Errorf("Listen(%q) succeeded", network)
			continue
		}
		if !errors.Is(err, transport.ErrNetwork) {
			t.Errorf("Listen(%q): %v, want ErrNetwork", network, err)
		}
	}
}

// quietTarget is a loop target on a socket that never has anything to read: every
// event it gets is a stale one meant for another fd.
type quietTarget struct {
	fd     int
	events []poller.Event
}

func (q *quietTarget) Fd() int                     { return q.fd }
func (q *quietTarget) HandleEvent(ev poller.Event) { q.events = append(q.events, ev) }
func (q *quietTarget) String() string              { return "quiet fd " + strconv.Itoa(q.fd) }

var _ loop.Target = (*quietTarget)(nil)

// closeListenerOnOpen closes its listener from the first OnOpen.
type closeListenerOnOpen struct {
	transport.BaseHandler
	ln     *transport.Listener
	opened *atomic.Int32
}

func (h closeListenerOnOpen) OnOpen(c *transport.Conn) {
	if h.opened.Add(1) == 1 {
		h.ln.Close()
	}
}

// A listener closed by a conn's OnOpen, in the middle of an accept burst, accepts
// nothing more, although its fd stays open until the batch ends.
func TestListenerClosedInOnOpenStopsAcceptBurst(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	ln, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		t.Fatal(err)
	}
	var opened atomic.Int32
	// Hold the loop while three clients connect, so all three wait in the backlog
	// for one accept burst.
	hold, held := make(chan struct{}), make(chan struct{})
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(hold) }) }) // runs before the loop's cleanup
	onLoop(t, l, func() {
		if err := ln.Serve(l, closeListenerOnOpen{ln: ln, opened: &opened}, transport.Config{}); err != nil {
			t.Error(err)
		}
	})
	if err := l.Submit(func() { close(held); <-hold }); err != nil {
		t.Fatal(err)
	}
	testutil.Recv(t, held, waitFor, "the loop to be held")
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), waitFor)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	release.Do(func() { close(hold) })
	testutil.Eventually(t, waitFor, func() bool { return opened.Load() >= 1 }, "the first OnOpen")
	onLoop(t, l, func() {}) // a full round after the burst
	if n := opened.Load(); n != 1 {
		t.Fatalf("%d conns opened, want 1: the listener kept accepting after Close", n)
	}
	for _, c := range clients {
		c.Close()
	}
}
