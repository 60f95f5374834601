package sys_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// testutil does not import sys, so there is no import cycle.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// waitFor bounds every wait for bytes to arrive; a passing test never waits this
// long.
const waitFor = 5 * time.Second

// unixPair returns a connected pair of Unix stream sockets, closed when the test
// ends.
func unixPair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	t.Cleanup(func() {
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	return fds[0], fds[1]
}

// tcpPair returns the two ends of a loopback TCP connection, closed when the test
// ends.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), waitFor)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	s := testutil.Recv(t, accepted, waitFor, "the accepted connection")
	if s == nil {
		t.Fatal("Accept failed")
	}
	t.Cleanup(func() { s.Close() })
	c.SetDeadline(time.Now().Add(waitFor))
	s.SetDeadline(time.Now().Add(waitFor))
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// unreadOf calls sys.Unread on the fd behind c.
func unreadOf(t *testing.T, c *net.TCPConn) (int, error) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	var n int
	var uerr error
	if err := rc.Control(func(fd uintptr) { n, uerr = sys.Unread(int(fd)) }); err != nil {
		t.Fatalf("Control: %v", err)
	}
	return n, uerr
}

// mustUnread is sys.Unread that fails the test on an error.
func mustUnread(t *testing.T, fd int) int {
	t.Helper()
	n, err := sys.Unread(fd)
	if err != nil {
		t.Fatalf("Unread(%d): %v", fd, err)
	}
	return n
}

func TestUnreadIsZeroOnEmptyConnectedSocket(t *testing.T) {
	a, b := unixPair(t)
	for _, fd := range []int{a, b} {
		if n := mustUnread(t, fd); n != 0 {
			t.Errorf("Unread of an empty unix socket = %d, want 0", n)
		}
	}
	client, server := tcpPair(t)
	for name, c := range map[string]*net.TCPConn{"client": client, "server": server} {
		n, err := unreadOf(t, c)
		if err != nil || n != 0 {
			t.Errorf("Unread of the empty TCP %s = %d, %v; want 0, nil", name, n, err)
		}
	}
}

func TestUnreadCountsBytesSentByPeerWithoutConsumingThem(t *testing.T) {
	t.Run("unix", func(t *testing.T) {
		a, b := unixPair(t)
		msg := bytes.Repeat([]byte("sycamore"), 100) // 800 bytes
		if n, err := unix.Write(b, msg); err != nil || n != len(msg) {
			t.Fatalf("write: %d, %v", n, err)
		}
		testutil.Eventually(t, waitFor, func() bool { return mustUnread(t, a) == len(msg) },
			"Unread to reach %d", len(msg))
		if n := mustUnread(t, a); n != len(msg) {
			t.Fatalf("Unread = %d on a second call, want %d: it must not consume", n, len(msg))
		}
		if n := mustUnread(t, b); n != 0 {
			t.Fatalf("Unread of the sending end = %d, want 0", n)
		}
		// Read part: Unread counts what is left.
		buf := make([]byte, 300)
		if n, err := unix.Read(a, buf); err != nil || n != len(buf) {
			t.Fatalf("read: %d, %v", n, err)
		}
		if n := mustUnread(t, a); n != len(msg)-len(buf) {
			t.Fatalf("Unread after reading %d = %d, want %d", len(buf), n, len(msg)-len(buf))
		}
	})
	t.Run("tcp", func(t *testing.T) {
		client, server := tcpPair(t)
		const size = 5000
		msg := bytes.Repeat([]byte{0xa5}, size)
		if _, err := client.Write(msg); err != nil {
			t.Fatalf("client write: %v", err)
		}
		testutil.Eventually(t, waitFor, func() bool {
			n, err := unreadOf(t, server)
			return err == nil && n == size
		}, "Unread of the server end to reach %d", size)
		got := make([]byte, size)
		if _, err := io.ReadFull(server, got); err != nil {
			t.Fatalf("server read after Unread: %v", err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatal("bytes read after Unread differ from those sent")
		}
		if n, err := unreadOf(t, server); err != nil || n != 0 {
			t.Fatalf("Unread after reading everything = %d, %v; want 0, nil", n, err)
		}
	})
}

func TestUnreadOnInvalidOrClosedFdReturnsError(t *testing.T) {
	if n, err := sys.Unread(-1); err == nil {
		t.Errorf("Unread(-1) = %d, nil; want an error", n)
	} else if !errors.Is(err, unix.EBADF) {
		t.Errorf("Unread(-1) error = %v, want EBADF", err)
	}

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	unix.Write(fds[1], []byte("unread"))
	unix.Close(fds[1])
	if err := unix.Close(fds[0]); err != nil {
		t.Fatalf("close: %v", err)
	}
	// No other goroutine of this test binary opens fds now, so the number is not
	// reused between the close and the call.
	if n, err := sys.Unread(fds[0]); err == nil {
		t.Errorf("Unread of closed fd %d = %d, nil; want an error", fds[0], n)
	} else if !errors.Is(err, unix.EBADF) {
		t.Errorf("Unread of closed fd %d error = %v, want EBADF", fds[0], err)
	}
}
