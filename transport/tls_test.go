//go:build linux

package transport_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// serveTLS serves h over TLS with the fixture's server certificate on a new loop
// and returns the loop and the listener's address. tweak, if not nil, edits the
// TLS value first.
func serveTLS(t testing.TB, h transport.Handler, tweak func(*transport.TLS)) (*loop.Loop, string) {
	t.Helper()
	cfg := &transport.TLS{Config: testutil.TLS(t).ServerConfig()}
	if tweak != nil {
		tweak(cfg)
	}
	l := startLoop(t, logLoopErrors(t))
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{TLS: cfg})
	return l, ln.Addr().String()
}

// dialTLS connects a crypto/tls client to addr, with deadlines.
func dialTLS(t testing.TB, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	if cfg == nil {
		cfg = testutil.TLS(t).ClientConfig()
	}
	d := &net.Dialer{Timeout: waitFor}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("tls.Dial: %v", err)
	}
	c.SetDeadline(time.Now().Add(2 * waitFor))
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTLSEchoWithACryptoTLSClient(t *testing.T) {
	h := newRecordingHandler()
	h.data = echoAll
	_, addr := serveTLS(t, h, nil)
	c := dialTLS(t, addr, nil)
	for _, size := range []int{1, 100, 16 << 10, 100 << 10, 1 << 20} {
		msg := randomPattern(uint64(size), size)
		go c.Write(msg)
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("read %d bytes: %v", size, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("echo of %d bytes differs", size)
		}
	}
	h.accept(t)
	c.Close()
	cl := h.waitClosed(t)
	if cl.err != nil {
		t.Fatalf("OnClose after the client's close_notify: %v, want nil", cl.err)
	}
}

func TestTLSPlaintextOnATLSPortIsClosed(t *testing.T) {
	h := newRecordingHandler()
	_, addr := serveTLS(t, h, nil)
	c := dial(t, addr, 0)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	cl := h.waitClosed(t)
	if !errors.Is(cl.err, transport.ErrNotTLS) {
		t.Fatalf("OnClose(%v), want ErrNotTLS", cl.err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the server answered plaintext")
	}
}
