//go:build linux

// Linux only: these tests rely on Linux's IPv6 dual-stack listeners, on SO_RCVBUF
// turning receive-buffer auto-tuning off, and on socket flags read with fcntl.

package transport_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// listenOrSkip is listen, but it skips the test when the address family is not
// available here (no IPv6).
func listenOrSkip(t *testing.T, network, address string) *transport.Listener {
	t.Helper()
	ln, err := transport.Listen(network, address, transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		if errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EADDRNOTAVAIL) {
			t.Skipf("Listen(%s, %s): %v", network, address, err)
		}
		t.Fatalf("Listen(%s, %s): %v", network, address, err)
	}
	t.Cleanup(func() {
		if err := ln.Close(); err != nil && !errors.Is(err, transport.ErrClosed) {
			t.Errorf("Listener Close: %v", err)
		}
	})
	return ln
}

// serveFunc serves ln on the running loop l with accepted.
func serveFunc(t *testing.T, l *loop.Loop, ln *transport.Listener, accepted func(int, netip.AddrPort)) {
	t.Helper()
	var err error
	onLoop(t, l, func() { err = ln.ServeFunc(l, accepted) })
	if err != nil {
		t.Fatalf("ServeFunc: %v", err)
	}
}

// acceptCall is what one call of the accept function saw.
type acceptCall struct {
	fd       int
	remote   netip.AddrPort
	nonblock bool
	cloexec  bool
}

// recordAndCloseAccepts is an accept function that records each call on the
// returned channel and closes the fd, which it owns.
func recordAndCloseAccepts() (func(int, netip.AddrPort), <-chan acceptCall) {
	ch := make(chan acceptCall, 16)
	return func(fd int, remote netip.AddrPort) {
		a := acceptCall{fd: fd, remote: remote}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
			a.nonblock = fl&unix.O_NONBLOCK != 0
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			a.cloexec = fl&unix.FD_CLOEXEC != 0
		}
		unix.Close(fd)
		ch <- a
	}, ch
}

// tcpPort is the port of a TCP address.
func tcpPort(t *testing.T, a net.Addr) int {
	t.Helper()
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		t.Fatalf("address %v is a %T, want *net.TCPAddr", a, a)
	}
	return ta.Port
}

func TestServeFuncPassesEachFdAndPeerAddress(t *testing.T) {
	for _, tc := range []struct {
		name            string
		network, listen string // what the listener is
		dialNet, dialIP string // how the client connects
		wantIP          string // the peer address the accept function must see
	}{
		{"tcp4 listener, IPv4 client", "tcp4", "127.0.0.1:0", "tcp4", "127.0.0.1", "127.0.0.1"},
		{"tcp listener on 127.0.0.1, IPv4 client", "tcp", "127.0.0.1:0", "tcp4", "127.0.0.1", "127.0.0.1"},
		{"tcp6 listener, IPv6 client", "tcp6", "[::1]:0", "tcp6", "::1", "::1"},
		// A dual-stack listener gets IPv4 peers as ::ffff:127.0.0.1; the accept
		// function must see them unmapped, as 127.0.0.1.
		{"dual-stack [::]:0, IPv4 client", "tcp", "[::]:0", "tcp4", "127.0.0.1", "127.0.0.1"},
		{"dual-stack :0, IPv4 client", "tcp", ":0", "tcp4", "127.0.0.1", "127.0.0.1"},
		{"dual-stack :0, IPv6 client", "tcp", ":0", "tcp6", "::1", "::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLoop(t, nil)
			ln := listenOrSkip(t, tc.network, tc.listen)
			accept, got := recordAndCloseAccepts()
			serveFunc(t, l, ln, accept)
			port := tcpPort(t, ln.Addr())
			for i := range 3 {
				c := dialNetwork(t, tc.dialNet, net.JoinHostPort(tc.dialIP, strconv.Itoa(port)), 0)
				a := testutil.Recv(t, got, waitFor, "the accept function")
				want := netip.AddrPortFrom(netip.MustParseAddr(tc.wantIP), uint16(tcpPort(t, c.LocalAddr())))
				if a.remote != want {
					t.Errorf("client %d: accept function got remote %v, want %v", i, a.remote, want)
				}
				if a.remote.Addr().Is4In6() {
					t.Errorf("client %d: remote %v is IPv4-mapped, want it unmapped", i, a.remote)
				}
				if a.fd < 0 || !a.nonblock || !a.cloexec {
					t.Errorf("client %d: fd %d non-blocking %v close-on-exec %v; want a valid fd with both",
						i, a.fd, a.nonblock, a.cloexec)
				}
				// The accept function closed the fd: the client sees end-of-file.
				var b [1]byte
				if n, err := c.Read(b[:]); n != 0 || (err != io.EOF && !errors.Is(err, unix.ECONNRESET)) {
					t.Errorf("client %d: read after the accept function closed the fd = %d, %v; want EOF", i, n, err)
				}
			}
		})
	}
}

func TestServeFuncUnixPeerHasZeroAddrPort(t *testing.T) {
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "sf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s")

	l := startLoop(t, nil)
	ln := listenOrSkip(t, "unix", path)
	accept, got := recordAndCloseAccepts()
	serveFunc(t, l, ln, accept)
	for i := range 2 {
		dialNetwork(t, "unix", path, 0)
		a := testutil.Recv(t, got, waitFor, "the accept function")
		if a.remote != (netip.AddrPort{}) || a.remote.IsValid() {
			t.Errorf("unix client %d: remote %v, want the zero AddrPort", i, a.remote)
		}
		if a.fd < 0 || !a.nonblock || !a.cloexec {
			t.Errorf("unix client %d: fd %d non-blocking %v close-on-exec %v", i, a.fd, a.nonblock, a.cloexec)
		}
	}
}

// openReportingEcho echoes every byte it reads and reports each OnOpen, with the
// loop the conn belongs to and whether OnOpen ran on that loop's goroutine.
type openReportingEcho struct {
	transport.BaseHandler
	opened chan openReport
}

type openReport struct {
	c      *transport.Conn
	l      *loop.Loop
	inLoop bool
}

func (h *openReportingEcho) OnOpen(c *transport.Conn) {
	if h.opened != nil {
		h.opened <- openReport{c: c, l: c.Loop(), inLoop: c.Loop().InLoop()}
	}
}

func (h *openReportingEcho) OnData(c *transport.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// adoptOnLoop returns an accept function that hands each fd to target, where
// NewConn adopts it with h. Whatever cannot be adopted is closed and reported.
func adoptOnLoop(t *testing.T, target *loop.Loop, h transport.Handler) func(int, netip.AddrPort) {
	return func(fd int, _ netip.AddrPort) {
		err := target.Submit(func() {
			if _, err := transport.NewConn(target, fd, h, transport.Config{}); err != nil {
				unix.Close(fd)
				t.Errorf("NewConn on the target loop: %v", err)
			}
		})
		if err != nil {
			unix.Close(fd)
			t.Errorf("Submit to the target loop: %v", err)
		}
	}
}

// One loop accepts, another owns the conns: the shape of shard. The conn must
// open on the other loop's goroutine, echo there, and count its bytes there.
func TestServeFuncHandsFdToOtherLoopThatEchoes(t *testing.T) {
	acceptor := startLoop(t, nil)
	worker := startLoop(t, nil)
	ln := listenOrSkip(t, "tcp4", "127.0.0.1:0")
	h := &openReportingEcho{opened: make(chan openReport, 16)}
	serveFunc(t, acceptor, ln, adoptOnLoop(t, worker, h))

	const clients = 4
	total := 0
	for i := range clients {
		c := dialNetwork(t, "tcp4", ln.Addr().String(), 0)
		o := testutil.Recv(t, h.opened, waitFor, "OnOpen of the adopted conn")
		if o.l != worker || !o.inLoop {
			t.Errorf("client %d: conn on loop %p (worker %p), OnOpen on its goroutine %v; want the worker's",
				i, o.l, worker, o.inLoop)
		}
		msg := bytes.Repeat([]byte{byte('a' + i)}, 1000*(i+1))
		expectEcho(t, c, string(msg))
		expectEcho(t, c, "and again")
		total += len(msg) + len("and again")
	}

	var workerTargets, acceptorTargets int
	onLoop(t, worker, func() { workerTargets = worker.Stats().Targets })
	onLoop(t, acceptor, func() { acceptorTargets = acceptor.Stats().Targets })
	if workerTargets != clients || acceptorTargets != 1 {
		t.Errorf("targets: worker %d, acceptor %d; want %d conns on the worker and only the listener on the acceptor",
			workerTargets, acceptorTargets, clients)
	}
	testutil.Eventually(t, waitFor, func() bool {
		st := worker.Stats()
		return st.BytesIn == uint64(total) && st.BytesOut == uint64(total)
	}, "the worker's Stats to count %d bytes each way", total)
	if st := acceptor.Stats(); st.BytesIn != 0 || st.BytesOut != 0 {
		t.Errorf("acceptor counted BytesIn %d, BytesOut %d; the conns are the worker's", st.BytesIn, st.BytesOut)
	}
}

func TestServeFuncNilFunctionFailsAndRegistersNothing(t *testing.T) {
	l := startLoop(t, nil)
	ln := listenOrSkip(t, "tcp4", "127.0.0.1:0")
	var err error
	var targets int
	onLoop(t, l, func() {
		err = ln.ServeFunc(l, nil)
		targets = l.Stats().Targets
	})
	if err == nil {
		t.Fatal("ServeFunc(l, nil) = nil, want an error")
	}
	if targets != 0 {
		t.Fatalf("Stats().Targets = %d after the refused ServeFunc, want 0", targets)
	}
	// The refusal left the listener unserved: a real function can still serve it.
	accept, got := recordAndCloseAccepts()
	serveFunc(t, l, ln, accept)
	dialNetwork(t, "tcp4", ln.Addr().String(), 0)
	testutil.Recv(t, got, waitFor, "the accept function after the refused ServeFunc")
}

func TestServeFuncAfterCloseReturnsErrClosed(t *testing.T) {
	l := startLoop(t, nil)
	ln := listenOrSkip(t, "tcp4", "127.0.0.1:0")
	if err := ln.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	called := false
	var err error
	var targets int
	onLoop(t, l, func() {
		err = ln.ServeFunc(l, func(fd int, _ netip.AddrPort) { called = true; unix.Close(fd) })
		targets = l.Stats().Targets
	})
	if !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("ServeFunc after Close = %v, want ErrClosed", err)
	}
	if targets != 0 || called {
		t.Fatalf("ServeFunc after Close registered %d targets (accept called %v), want none", targets, called)
	}
}

// adoptAndSend is an accept function that adopts each fd on l (its own loop) with h
// and sends the Conn on the returned channel.
func adoptAndSend(t *testing.T, l *loop.Loop, h transport.Handler) (func(int, netip.AddrPort), <-chan *transport.Conn) {
	ch := make(chan *transport.Conn, 4)
	return func(fd int, _ netip.AddrPort) {
		c, err := transport.NewConn(l, fd, h, transport.Config{})
		if err != nil {
			unix.Close(fd)
			t.Errorf("NewConn: %v", err)
			return
		}
		ch <- c
	}, ch
}

// A large Write to a peer that does not read cannot all reach the kernel: the rest
// waits in the write queue, and Queued says how much. Once the peer reads it all,
// the queue is empty again.
func TestQueuedCountsBytesBlockedOnPeerThatDoesNotRead(t *testing.T) {
	const (
		size   = 8 << 20 // far more than both kernel buffers hold
		rcvBuf = 16 << 10
	)
	l := startLoop(t, nil)
	ln := listenOrSkip(t, "tcp4", "127.0.0.1:0")
	accept, conns := adoptAndSend(t, l, &openReportingEcho{})
	serveFunc(t, l, ln, accept)
	client := dialNetwork(t, "tcp4", ln.Addr().String(), rcvBuf)
	c := testutil.Recv(t, conns, waitFor, "the adopted conn")

	queued := func() (n int) {
		onLoop(t, l, func() { n = c.Queued() })
		return n
	}
	if n := queued(); n != 0 {
		t.Fatalf("Queued of an idle conn = %d, want 0", n)
	}

	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i % 251)
	}
	var werr error
	var inTask int
	onLoop(t, l, func() {
		if err := unix.SetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF, rcvBuf); err != nil {
			werr = err
			return
		}
		_, werr = c.Write(msg)
		inTask = c.Queued() // flushed only at the end of the round
	})
	if werr != nil {
		t.Fatalf("Write: %v", werr)
	}
	if inTask != size {
		t.Errorf("Queued right after Write, before the round ended = %d, want %d", inTask, size)
	}
	// The round's flush took what the kernel could hold; the peer reads nothing,
	// so the rest stays queued round after round.
	first := queued()
	if first <= 0 || first >= size {
		t.Fatalf("Queued after the flush = %d, want between 0 and %d (blocked on the peer)", first, size)
	}
	for range 5 {
		if n := queued(); n <= 0 {
			t.Fatalf("Queued = %d while the peer reads nothing, want > 0", n)
		}
	}

	got := make([]byte, size)
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("client read of the %d bytes: %v", size, err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("bytes read by the client differ from those written")
	}
	testutil.Eventually(t, waitFor, func() bool { return queued() == 0 }, "Queued back to 0 after the peer drained")
	// The queue went out in many partial writes; each was counted once.
	testutil.Eventually(t, waitFor, func() bool { return l.Stats().BytesOut == size },
		"Stats().BytesOut to reach %d", size)
	if st := l.Stats(); st.BytesIn != 0 {
		t.Errorf("Stats().BytesIn = %d, want 0: the client sent nothing", st.BytesIn)
	}
}

// transport calls CountIO for every read and write, so an echo's bytes show up in
// the loop's Stats exactly: no byte missed, none counted twice.
func TestStatsCountEchoBytesExactly(t *testing.T) {
	l := startLoop(t, nil)
	ln := listenOrSkip(t, "tcp4", "127.0.0.1:0")
	accept, conns := adoptAndSend(t, l, &openReportingEcho{})
	serveFunc(t, l, ln, accept)
	client := dialNetwork(t, "tcp4", ln.Addr().String(), 0)
	testutil.Recv(t, conns, waitFor, "the adopted conn")

	total := 0
	for i, size := range []int{1, 100, 4096, 70_000, 300_000} {
		msg := bytes.Repeat([]byte{byte(i)}, size)
		expectEcho(t, client, string(msg))
		total += size
		testutil.Eventually(t, waitFor, func() bool {
			st := l.Stats()
			return st.BytesIn == uint64(total) && st.BytesOut == uint64(total)
		}, "Stats to count %d bytes each way", total)
	}
	// Later rounds, with nothing moving, add nothing.
	for range 3 {
		onLoop(t, l, func() {})
	}
	if st := l.Stats(); st.BytesIn != uint64(total) || st.BytesOut != uint64(total) {
		t.Fatalf("after idle rounds: BytesIn %d, BytesOut %d; want %d each", st.BytesIn, st.BytesOut, total)
	}
}
