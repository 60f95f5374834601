package shard

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// quiet is the tests' logger: the engine's start and stop lines would drown the
// test output.
var quiet = slog.New(slog.DiscardHandler)

// echo writes back every byte it reads.
type echo struct{ transport.BaseHandler }

func (echo) OnData(c *transport.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// newEngine makes an engine that the test closes at its end.
func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// startEcho makes and starts an engine serving echo on a loopback port.
func startEcho(t testing.TB, opts Options) (*Engine, string) {
	t.Helper()
	e := newEngine(t, opts)
	return e, serve(t, e, echo{})
}

// serve listens on a loopback port with h, starts e, and returns the address.
func serve(t testing.TB, e *Engine, h transport.Handler) string {
	t.Helper()
	addr, err := e.Listen("tcp", "127.0.0.1:0", h)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	if err := e.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return addr.String()
}

// dial connects to addr with a deadline on every later read and write.
func dial(t testing.TB, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes p and expects it back.
func roundTrip(t testing.TB, c net.Conn, p []byte) {
	t.Helper()
	if _, err := c.Write(p); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(p))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("echoed %q, want %q", got, p)
	}
}

// shutdownWithin runs Shutdown with a deadline and returns its error.
func shutdownWithin(e *Engine, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return e.Shutdown(ctx)
}

// handlerFunc adapts functions to transport.Handler; nil ones do nothing.
type handlerFunc struct {
	open  func(c *transport.Conn)
	data  func(c *transport.Conn)
	close func(c *transport.Conn, err error)
}

func (h *handlerFunc) OnOpen(c *transport.Conn) {
	if h.open != nil {
		h.open(c)
	}
}

func (h *handlerFunc) OnData(c *transport.Conn) {
	if h.data != nil {
		h.data(c)
	}
}

func (h *handlerFunc) OnWritable(*transport.Conn) {}

func (h *handlerFunc) OnClose(c *transport.Conn, err error) {
	if h.close != nil {
		h.close(c, err)
	}
}
