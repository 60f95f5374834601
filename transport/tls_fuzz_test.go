//go:build linux

package transport_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// FuzzTLSServerInput feeds arbitrary bytes to a TLS server conn (one end of a
// socketpair adopted with NewConn) and ends the stream after them. The conn
// must close with an error (no input completes a handshake: that takes a
// Finished made with the server's own key share), never open, never panic on
// the loop; one whose first byte is not a handshake record closes with
// ErrNotTLS without waiting for the end of the stream.
func FuzzTLSServerInput(f *testing.F) {
	fixture := testutil.TLS(f)
	hello := captureClientHello(f, fixture.ClientConfig())
	for _, seed := range [][]byte{
		hello,
		hello[:1],
		hello[:5],
		hello[:len(hello)/2],
		hello[:len(hello)-1],
		join(hello, []byte{23, 3, 3, 0, 5, 1, 2, 3, 4, 5}), // application data before the Finished
		join(hello, []byte{21, 3, 3, 0, 2, 2, 40}),         // an alert after the ClientHello
		join(hello, hello),
		[]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
		{},
		{22, 3, 1, 0xff, 0xff},       // a record longer than any allowed
		{22, 3, 1, 0, 0},             // an empty handshake record
		{22, 3, 1, 0, 4, 1, 0, 0, 0}, // an empty ClientHello
		{22, 0x30, 0, 0, 1, 1},       // a version no TLS has
	} {
		f.Add(seed)
	}

	l, panics := fuzzLoop(f)
	cfg := transport.Config{TLS: &transport.TLS{Config: fixture.ServerConfig()}}

	f.Fuzz(func(t *testing.T, input []byte) {
		h := newRecordingHandler()
		_, peer := adoptedSocketpair(t, l, h, cfg)
		peer.SetDeadline(time.Now().Add(waitFor))
		peer.Write(input) // the server may close before all is in: a write error is fine
		notTLS := len(input) > 0 && input[0] != 22
		if !notTLS {
			peer.CloseWrite()
		}
		cl := closedWithError(t, h, "input that cannot complete a handshake")
		switch {
		case notTLS && !errors.Is(cl.err, transport.ErrNotTLS):
			t.Fatalf("OnClose(%v) for input that does not start with a handshake record, want ErrNotTLS", cl.err)
		}
		noOpen(t, h)
		noPanic(t, panics)
	})
}

// FuzzTLSRecordsAfterHandshake feeds arbitrary bytes, as the peer's records,
// to a TLS server conn whose handshake is done, and ends the stream after them.
// The conn decrypts on the loop: it must close with an error (no input forges
// a record, let alone a close_notify), never panic, and hand OnData nothing
// (every record fails its authentication).
func FuzzTLSRecordsAfterHandshake(f *testing.F) {
	fixture := testutil.TLS(f)
	for _, seed := range [][]byte{
		{},
		{23},
		{23, 3, 3},
		{23, 3, 3, 0, 20},
		join([]byte{23, 3, 3, 0, 20}, make([]byte, 20)), // a record that fails its MAC
		join([]byte{23, 3, 3, 0, 20}, make([]byte, 10)), // half of one
		{23, 3, 3, 0xff, 0xff},                          // longer than any allowed
		{21, 3, 3, 0, 2, 1, 0},                          // a plaintext close_notify
		{20, 3, 3, 0, 1, 1},                             // a ChangeCipherSpec
		{22, 3, 3, 0, 4, 24, 0, 0, 1},                   // a plaintext KeyUpdate
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	} {
		f.Add(seed)
	}
	l, panics := fuzzLoop(f)
	cfg := transport.Config{TLS: &transport.TLS{Config: fixture.ServerConfig()}}
	clientCfg := fixture.ClientConfig()

	f.Fuzz(func(t *testing.T, input []byte) {
		h := newRecordingHandler()
		_, peer := adoptedSocketpair(t, l, h, cfg)
		peer.SetDeadline(time.Now().Add(waitFor))
		if err := tls.Client(peer, clientCfg).Handshake(); err != nil {
			t.Fatalf("client handshake: %v", err)
		}
		h.accept(t)
		peer.Write(input) // raw bytes under the client's tls.Conn
		peer.CloseWrite()
		closedWithError(t, h, "forged records")
		if n := h.onData.Load(); n != 0 {
			t.Fatalf("OnData ran %d times for forged records", n)
		}
		noPanic(t, panics)
	})
}

// fuzzLoop starts the loop a fuzz target's conns live on; the panics its
// OnError sees come out of the returned channel (a fuzz target must not fail
// through f, as startLoop's default OnError would).
func fuzzLoop(f *testing.F) (*loop.Loop, <-chan error) {
	panics := make(chan error, 16)
	l := startLoop(f, func(tg loop.Target, err error) {
		var pe *loop.PanicError
		if errors.As(err, &pe) {
			select {
			case panics <- err:
			default:
			}
		}
	})
	onLoop(f, l, func() {}) // the loop runs before the first NewConn from off it
	return l, panics
}

// noPanic fails the test if the loop's OnError saw a panic.
func noPanic(t *testing.T, panics <-chan error) {
	t.Helper()
	select {
	case err := <-panics:
		t.Fatalf("loop OnError: %v", err)
	default:
	}
}

// join concatenates byte slices.
func join(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// adoptedSocketpair makes a socketpair, adopts one end on l as a conn with
// cfg (a TLS server, with cfg.TLS) and returns that conn and the other end as
// a *net.UnixConn, closed when the test ends.
func adoptedSocketpair(t testing.TB, l *loop.Loop, h transport.Handler, cfg transport.Config) (*transport.Conn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	f := os.NewFile(uintptr(fds[1]), "socketpair peer")
	peer, err := net.FileConn(f) // a dup of fds[1]
	f.Close()
	if err != nil {
		unix.Close(fds[0])
		t.Fatalf("FileConn: %v", err)
	}
	t.Cleanup(func() { peer.Close() })
	var c *transport.Conn
	onLoop(t, l, func() { c, err = transport.NewConn(l, fds[0], h, cfg) })
	if err != nil {
		unix.Close(fds[0])
		t.Fatalf("NewConn: %v", err)
	}
	return c, peer.(*net.UnixConn)
}

// closedWithError waits for the conn's OnClose and fails the test unless it
// came with an error other than a panic on the loop; what names the input.
func closedWithError(t *testing.T, h *recordingHandler, what string) closeCall {
	t.Helper()
	cl := h.waitClosed(t)
	var pe *loop.PanicError
	switch {
	case errors.As(cl.err, &pe):
		t.Fatalf("the conn panicked on the loop: %v\n%s", pe.Value, pe.Stack)
	case cl.err == nil:
		t.Fatalf("OnClose(nil) for %s", what)
	}
	return cl
}
