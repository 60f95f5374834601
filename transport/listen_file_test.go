package transport_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// echoCounter is an echo handler that counts the conns it opened.
type echoCounter struct {
	funcHandler
	opened atomic.Int64
}

func newEchoCounter() *echoCounter {
	h := &echoCounter{}
	h.funcHandler.open = func(*transport.Conn) { h.opened.Inc() }
	h.funcHandler.data = func(c *transport.Conn) {
		b, _ := c.Next(-1)
		c.Write(b)
	}
	return h
}

// serveAdopted serves an adopted listener with an echoCounter on the running
// loop l, closes it when the test ends, and returns the handler.
func serveAdopted(t testing.TB, l *loop.Loop, ln *transport.Listener) *echoCounter {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	h := newEchoCounter()
	var err error
	onLoop(t, l, func() { err = ln.Serve(l, h, transport.Config{}) })
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	return h
}

// rawTCPSocket makes a blocking TCP socket with plain syscalls, bound to a
// loopback port, listening when listen is set. The caller closes it, or hands
// it over.
func rawTCPSocket(t testing.TB, listen bool) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		t.Fatalf("bind: %v", err)
	}
	if listen {
		if err := unix.Listen(fd, 16); err != nil {
			unix.Close(fd)
			t.Fatalf("listen: %v", err)
		}
	}
	return fd
}

// isNonblock reports whether fd's socket has O_NONBLOCK set.
func isNonblock(t testing.TB, fd int) bool {
	t.Helper()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatalf("F_GETFL of fd %d: %v", fd, err)
	}
	return flags&unix.O_NONBLOCK != 0
}

func TestFileListenerServesTCPAfterTheCallerClosesItsCopies(t *testing.T) {
	l := startLoop(t, nil)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := nl.(*net.TCPListener).File()
	if err != nil {
		nl.Close()
		t.Fatal(err)
	}
	ln, err := transport.FileListener(f)
	// The caller's file and listener are its own to close: the adopted copy
	// keeps the socket open.
	f.Close()
	nl.Close()
	if err != nil {
		t.Fatalf("FileListener: %v", err)
	}
	if ln.Addr().String() != nl.Addr().String() {
		t.Errorf("adopted listener's Addr %v, want %v", ln.Addr(), nl.Addr())
	}
	h := serveAdopted(t, l, ln)
	c := dialNetwork(t, "tcp", ln.Addr().String(), 0)
	expectEcho(t, c, "through an adopted TCP socket")
	if n := h.opened.Load(); n != 1 {
		t.Errorf("the adopted listener opened %d conns, want 1", n)
	}
}

func TestAdoptedUnixListenerServesAndLeavesThePathOnClose(t *testing.T) {
	l := startLoop(t, nil)
	path := filepath.Join(t.TempDir(), "adopted.sock")
	orig := listen(t, "unix", path)
	f, err := orig.File()
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	ln, err := transport.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatalf("FileListener: %v", err)
	}
	if got := ln.Addr().String(); got != path {
		t.Errorf("adopted listener's Addr %q, want %q", got, path)
	}
	serveAdopted(t, l, ln)
	c := dialNetwork(t, "unix", path, 0)
	expectEcho(t, c, "through an adopted unix socket")

	// The original, whose socket was handed on by File, leaves the path for
	// the adopted copy, which still serves it.
	if err := orig.Close(); err != nil {
		t.Fatalf("Close of the original: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the original's Close after File removed the path: %v", err)
	}
	expectEcho(t, dialNetwork(t, "unix", path, 0), "after the original closed")

	// The adopted listener never removes it: the socket is not its to name.
	if err := ln.Close(); err != nil {
		t.Fatalf("Close of the adopted listener: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the adopted listener's Close removed the path: %v", err)
	}
}

func TestListenerFromFdTakesOverAListeningSocket(t *testing.T) {
	l := startLoop(t, nil)
	fd := rawTCPSocket(t, true)
	ln, err := transport.ListenerFromFd(fd)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("ListenerFromFd: %v", err)
	}
	if ln.Fd() != fd {
		t.Errorf("Fd %d, want the fd it took over, %d", ln.Fd(), fd)
	}
	if !isNonblock(t, fd) {
		t.Error("the taken-over socket is still blocking")
	}
	serveAdopted(t, l, ln)
	expectEcho(t, dialNetwork(t, "tcp", ln.Addr().String(), 0), "through a taken-over fd")
}

func TestListenerFromFdRefusesASocketThatIsNotListening(t *testing.T) {
	fd := rawTCPSocket(t, false)
	defer unix.Close(fd)
	_, err := transport.ListenerFromFd(fd)
	if !errors.Is(err, transport.ErrNotListener) || !strings.Contains(err.Error(), "not listening") {
		t.Fatalf("ListenerFromFd of a bound, unlistening socket: %v; want ErrNotListener saying it is not listening", err)
	}
	// On error the fd is the caller's, untouched: still open and blocking.
	if isNonblock(t, fd) {
		t.Error("a refused fd was made non-blocking")
	}
}

func TestFileListenerRefusesAUDPSocket(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	f, err := pc.(*net.UDPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ln, err := transport.FileListener(f)
	if err == nil {
		ln.Close()
		t.Fatal("FileListener adopted a UDP socket")
	}
	if !errors.Is(err, transport.ErrNotListener) || !strings.Contains(err.Error(), "datagram") {
		t.Fatalf("FileListener of a UDP socket: %v; want ErrNotListener naming a datagram socket", err)
	}
}

func TestFileListenerRefusesWhatIsNotASocket(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = transport.FileListener(f)
	if !errors.Is(err, transport.ErrNotListener) || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("FileListener of %s: %v; want ErrNotListener saying it is not a socket", os.DevNull, err)
	}
	f.Close()
	if ln, err := transport.FileListener(f); err == nil {
		ln.Close()
		t.Fatal("FileListener of a closed file succeeded")
	}
}

func TestListenerFileServesInASecondListenerAfterTheFirstCloses(t *testing.T) {
	first, second := startLoop(t, nil), startLoop(t, nil)
	ln := listen(t, "tcp", "127.0.0.1:0")
	h1 := newEchoCounter()
	onLoop(t, first, func() {
		if err := ln.Serve(first, h1, transport.Config{}); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	f, err := ln.File()
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	copied, err := transport.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatalf("FileListener of File's copy: %v", err)
	}
	if copied.Addr().String() != ln.Addr().String() {
		t.Errorf("copy's Addr %v, want %v", copied.Addr(), ln.Addr())
	}
	h2 := serveAdopted(t, second, copied)

	// Closing the first listener closes its fd, not the socket: the copy
	// serves every later client.
	if err := ln.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 3 {
		expectEcho(t, dialNetwork(t, "tcp", copied.Addr().String(), 0), "to the copy")
	}
	if n1, n2 := h1.opened.Load(), h2.opened.Load(); n1 != 0 || n2 != 3 {
		t.Errorf("the closed first listener opened %d conns and the copy %d; want 0 and 3", n1, n2)
	}
}

func TestListenerFileKeepsTheSocketNonblockingThroughFd(t *testing.T) {
	ln := listen(t, "tcp", "127.0.0.1:0")
	f, err := ln.File()
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	defer f.Close()
	// exec.Cmd.ExtraFiles calls Fd on every file; for a file from package net
	// that sets the socket blocking, and a loop serving it would block in
	// accept.
	if fd := int(f.Fd()); !isNonblock(t, fd) || !isNonblock(t, ln.Fd()) {
		t.Fatal("Fd of the File's copy set the listening socket blocking")
	}
	if flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("the File's copy is not close-on-exec (flags %#x, %v)", flags, err)
	}
}

func TestListenerFileAfterCloseIsErrClosed(t *testing.T) {
	ln, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if f, err := ln.File(); !errors.Is(err, transport.ErrClosed) {
		if f != nil {
			f.Close()
		}
		t.Fatalf("File after Close: %v; want ErrClosed", err)
	}
}
