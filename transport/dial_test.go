//go:build linux

// Linux only: these tests read kernel queue sizes (SIOCINQ, SIOCOUTQ), fake accept4
// through the syscall seam, or make sockets with SOCK_CLOEXEC/SOCK_NONBLOCK flags.

package transport_test

import (
	"errors"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// dialOnLoop calls transport.Dial on l's goroutine and returns the conn, the
// error and the conn's state right after Dial.
func dialOnLoop(t testing.TB, l *loop.Loop, network, addr string, h transport.Handler) (*transport.Conn, transport.State, error) {
	t.Helper()
	var c *transport.Conn
	var state transport.State
	var err error
	onLoop(t, l, func() {
		c, err = transport.Dial(l, network, addr, h, transport.Config{})
		if err == nil {
			state = c.State()
		}
	})
	return c, state, err
}

// serveEcho serves an echo handler on l.
func serveEcho(t testing.TB, l *loop.Loop, network, addr string) *transport.Listener {
	t.Helper()
	h := newRecordingHandler()
	h.data = echoAll
	return serve(t, l, network, addr, h, transport.Config{})
}

// dialAndEcho dials addr from l and checks: Connecting after Dial, then OnOpen (in
// state Open), then an echo of what OnOpen wrote, then an orderly OnClose.
func dialAndEcho(t testing.TB, l *loop.Loop, network, addr string) {
	t.Helper()
	h := newRecordingHandler()
	events := make(chan string, 4)
	h.open = func(c *transport.Conn) {
		events <- "open in state " + c.State().String()
		c.Write([]byte("ping"))
	}
	var got []byte // loop goroutine only
	h.data = func(c *transport.Conn) {
		b, _ := c.Next(-1)
		if got = append(got, b...); len(got) >= len("ping") {
			events <- "echo " + string(got)
			c.Close()
		}
	}
	c, state, err := dialOnLoop(t, l, network, addr, h)
	if err != nil {
		t.Fatalf("Dial(%s, %s): %v", network, addr, err)
	}
	if state != transport.Connecting {
		t.Errorf("state right after Dial = %v, want connecting", state)
	}
	for _, want := range []string{"open in state open", "echo ping"} {
		if e := testutil.Recv(t, events, waitFor, want); e != want {
			t.Fatalf("got %q, want %q", e, want)
		}
	}
	if cls := h.waitClosed(t); cls.c != c || cls.err != nil {
		t.Errorf("OnClose err = %v, want nil", cls.err)
	}
}

func TestDialOpensThenEchoesOnSameLoop(t *testing.T) {
	l := startLoop(t, nil)
	ln := serveEcho(t, l, "tcp", "127.0.0.1:0")
	dialAndEcho(t, l, "tcp", ln.Addr().String())
}

func TestDialUnixSocketEchoes(t *testing.T) {
	l := startLoop(t, nil)
	path := filepath.Join(t.TempDir(), "echo.sock")
	serveEcho(t, l, "unix", path)
	dialAndEcho(t, l, "unix", path)
}

func TestDialTCP6LoopbackEchoes(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	probe.Close()
	l := startLoop(t, nil)
	ln := serveEcho(t, l, "tcp6", "[::1]:0")
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.Equal(net.IPv6loopback) {
		t.Errorf("listener address %v, want [::1]:port", ln.Addr())
	}
	dialAndEcho(t, l, "tcp6", ln.Addr().String())
}

// expectDialFailure checks that a Dial that cannot connect reports want through
// OnClose, exactly once, and never calls OnOpen.
func expectDialFailure(t testing.TB, l *loop.Loop, network, addr string, want error) {
	t.Helper()
	h := newRecordingHandler()
	c, _, err := dialOnLoop(t, l, network, addr, h)
	if err != nil {
		t.Fatalf("Dial returned %v; a failed connect should be reported through OnClose", err)
	}
	cls := h.waitClosed(t)
	if cls.c != c || !errors.Is(cls.err, want) || cls.state != transport.Closed {
		t.Errorf("OnClose(%v) in state %v, want %v in Closed", cls.err, cls.state, want)
	}
	runRounds(t, l, 2)
	if n := len(h.opened); n != 0 {
		t.Errorf("OnOpen ran %d times for a failed connect", n)
	}
	if n := h.closeCount(c); n != 1 {
		t.Errorf("OnClose ran %d times", n)
	}
}

func TestDialRefusedReportsECONNREFUSEDWithoutOnOpen(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close() // nothing listens there now
	l := startLoop(t, nil)
	expectDialFailure(t, l, "tcp", addr, syscall.ECONNREFUSED)
}

func TestDialMissingUnixPathReportsENOENTWithoutOnOpen(t *testing.T) {
	l := startLoop(t, nil)
	expectDialFailure(t, l, "unix", filepath.Join(t.TempDir(), "nobody.sock"), syscall.ENOENT)
}

func TestDialUnsupportedNetworkFailsWithErrNetwork(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	c, _, err := dialOnLoop(t, l, "udp", "127.0.0.1:9", h)
	if !errors.Is(err, transport.ErrNetwork) || c != nil {
		t.Errorf("Dial(udp) = %v, %v; want nil, ErrNetwork", c, err)
	}
	runRounds(t, l, 2)
	if len(h.opened) != 0 || len(h.closed) != 0 {
		t.Errorf("handler called for a Dial that failed at once")
	}
}

func TestDialSendsWritesQueuedWhileConnectingAfterOnOpen(t *testing.T) {
	const want = "early+open"
	l := startLoop(t, nil)
	srv := newRecordingHandler()
	received := make(chan string, 1)
	var got []byte // loop goroutine only
	srv.data = func(c *transport.Conn) {
		b, _ := c.Next(-1)
		if got = append(got, b...); len(got) >= len(want) {
			received <- string(got)
		}
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", srv, transport.Config{})

	cli := newRecordingHandler()
	cli.open = func(c *transport.Conn) { c.Write([]byte("+open")) }
	var state transport.State
	var dialErr, writeErr error
	onLoop(t, l, func() {
		var c *transport.Conn
		c, dialErr = transport.Dial(l, "tcp", ln.Addr().String(), cli, transport.Config{})
		if dialErr == nil {
			state = c.State()
			_, writeErr = c.Write([]byte("early"))
		}
	})
	if dialErr != nil || state != transport.Connecting || writeErr != nil {
		t.Fatalf("Dial = %v, state %v, Write while connecting = %v; want nil, connecting, nil", dialErr, state, writeErr)
	}
	if s := testutil.Recv(t, received, waitFor, "the server to read both writes"); s != want {
		t.Errorf("server read %q, want %q", s, want)
	}
}

func TestAcceptedConnAddrsMatchClient(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	addrs := make(chan [2]net.Addr, 1)
	h.open = func(c *transport.Conn) { addrs <- [2]net.Addr{c.LocalAddr(), c.RemoteAddr()} }
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	cl := dial(t, ln.Addr().String(), 0)
	a := testutil.Recv(t, addrs, waitFor, "OnOpen")
	if a[0].String() != cl.RemoteAddr().String() || a[1].String() != cl.LocalAddr().String() {
		t.Errorf("server conn LocalAddr %v RemoteAddr %v; client has local %v remote %v",
			a[0], a[1], cl.LocalAddr(), cl.RemoteAddr())
	}
	if _, ok := a[1].(*net.TCPAddr); !ok {
		t.Errorf("RemoteAddr is a %T, want *net.TCPAddr", a[1])
	}
}
