//go:build linux

package transport_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// errNoBytesYet is what a wouldBlockConn's Read returns when its socket holds no
// bytes: a temporary net.Error, as transport's tlsStream returns to crypto/tls.
var errNoBytesYet error = noBytesYet{}

type noBytesYet struct{}

func (noBytesYet) Error() string   { return "no bytes yet" }
func (noBytesYet) Timeout() bool   { return true }
func (noBytesYet) Temporary() bool { return true }

// wouldBlockConn is a net.Conn over one end of a socketpair whose Read, once
// nonBlocking is set, returns errNoBytesYet instead of waiting when the socket
// holds no bytes (SIOCINQ is 0).
type wouldBlockConn struct {
	net.Conn
	fd          int // the fd under Conn, for SIOCINQ
	nonBlocking atomic.Bool
}

func (c *wouldBlockConn) Read(b []byte) (int, error) {
	if c.nonBlocking.Load() {
		if n, err := unix.IoctlGetInt(c.fd, unix.SIOCINQ); err == nil && n == 0 {
			return 0, errNoBytesYet
		}
	}
	return c.Conn.Read(b)
}

// socketpairConns returns the two ends of a unix stream socketpair as
// net.Conns, with deadlines, closed when the test ends.
func socketpairConns(t testing.TB) (a, b net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f) // a dup of fd
		f.Close()
		if err != nil {
			t.Fatalf("FileConn: %v", err)
		}
		c.SetDeadline(time.Now().Add(2 * waitFor))
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns[0], conns[1]
}

// rawFd returns the fd under c.
func rawFd(t testing.TB, c net.Conn) int {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	var fd int
	rc.Control(func(u uintptr) { fd = int(u) })
	return fd
}

// TestCryptoTLSDoesNotKeepATemporaryReadError pins the behaviour of crypto/tls
// that transport's TLS rests on. After the handshake the loop drives a tls.Conn
// whose transport (tlsStream) never blocks: when no whole record is in, its Read
// returns a temporary net.Error, and the loop calls tls.Conn.Read again once
// bytes arrive. That works only because crypto/tls's record layer
// (readRecordOrCCS, on a failed read of the record header) keeps an error from
// its transport as the conn's permanent error unless it is a net.Error with
// Temporary() true. Should a Go release make such an error sticky, every TLS
// conn of the loop would die on its first read without a whole record, and this
// test fails first.
func TestCryptoTLSDoesNotKeepATemporaryReadError(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			serverEnd, clientEnd := socketpairConns(t)
			wb := &wouldBlockConn{Conn: serverEnd, fd: rawFd(t, serverEnd)}
			fixture := testutil.TLS(t)
			serverCfg := fixture.ServerConfig()
			serverCfg.MaxVersion = version
			server := tls.Server(wb, serverCfg)
			client := tls.Client(clientEnd, fixture.ClientConfig())

			clientDone := make(chan error, 1)
			go func() { clientDone <- client.Handshake() }()
			if err := server.Handshake(); err != nil {
				t.Fatalf("server handshake: %v", err)
			}
			if err := testutil.Recv(t, clientDone, waitFor, "the client's handshake"); err != nil {
				t.Fatalf("client handshake: %v", err)
			}

			wb.nonBlocking.Store(true)
			buf := make([]byte, 64)
			for i := 0; i < 2; i++ {
				n, err := server.Read(buf)
				if n != 0 || !errors.Is(err, errNoBytesYet) {
					t.Fatalf("Read %d with no bytes in: %d, %v; want 0 and the transport's temporary error", i+1, n, err)
				}
			}

			// On a unix socket the record is in the peer's queue when Write returns.
			if _, err := client.Write([]byte("after the temporary error")); err != nil {
				t.Fatalf("client write: %v", err)
			}
			n, err := server.Read(buf)
			if err != nil || string(buf[:n]) != "after the temporary error" {
				t.Fatalf("Read once the record is in: %q, %v; want the record's plaintext", buf[:n], err)
			}

			// And the conn still works the other way.
			if _, err := server.Write([]byte("still alive")); err != nil {
				t.Fatalf("server write after the temporary error: %v", err)
			}
			got := make([]byte, len("still alive"))
			if _, err := io.ReadFull(client, got); err != nil || string(got) != "still alive" {
				t.Fatalf("client read: %q, %v", got, err)
			}
		})
	}
}
