//go:build linux

package transport_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// TestTLSHandshakeOutputTheKernelRefusesWaitsForWritable: the server's
// handshake writes meet a kernel that takes at most 100 bytes a call and
// refuses every other call (EAGAIN). The handshake's goroutine writes what it
// can, the loop writes the rest on Writable, in order, and the handshake and an
// echo after it complete.
func TestTLSHandshakeOutputTheKernelRefusesWaitsForWritable(t *testing.T) {
	watched := newWatchedFd()
	var calls, refused int
	interceptIO(t, &sys.Write, watched, func(real ioFunc, fd int, p []byte) (int, error) {
		calls++ // the goroutine and the loop write in turn, never at once (the handshake's lock, then the loop)
		if calls%2 == 1 {
			refused++
			return 0, unix.EAGAIN
		}
		return real(fd, p[:min(len(p), 100)])
	})
	h := newRecordingHandler()
	h.data = echoAll
	l := startLoop(t, logLoopErrors(t))
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "peer")
	peer, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	watched.Store(int64(fds[0]))
	cfg := transport.Config{TLS: &transport.TLS{Config: testutil.TLS(t).ServerConfig()}}
	onLoop(t, l, func() { _, err = transport.NewConn(l, fds[0], h, cfg) })
	if err != nil {
		t.Fatal(err)
	}
	client := tls.Client(peer, testutil.TLS(t).ClientConfig())
	client.SetDeadline(time.Now().Add(waitFor))
	if err := client.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	msg := randomPattern(7, 5000)
	go client.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo after the handshake: %v", err)
	}
	h.accept(t)
	var n int
	onLoop(t, l, func() { n = refused })
	if n < 5 {
		t.Fatalf("only %d writes refused: the slow path was not taken", n)
	}
}
