package shard

import (
	"net"
	"testing"
	"time"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// TestShutdownDoesNotCutAnUploadShort: a client uploads 4 MiB through small
// socket buffers, in 64 KiB pieces a few milliseconds apart, so that the
// server often has nothing buffered and nothing unread in the kernel. A
// Shutdown begun early in the upload must not take that conn for idle: every
// byte arrives before the conn closes.
func TestShutdownDoesNotCutAnUploadShort(t *testing.T) {
	const total = 4 << 20
	var got atomic.Int64
	e := newEngine(t, Options{Loops: 1})
	h := &handlerFunc{data: func(c *transport.Conn) {
		n, _ := c.Discard(-1)
		got.Add(int64(n))
	}}
	addr := serve(t, e, h)
	c := dial(t, "tcp", addr)
	c.(*net.TCPConn).SetWriteBuffer(16 << 10)
	piece := make([]byte, 64<<10)
	sent := 0
	shut := make(chan error, 1)
	for sent < total {
		n, err := c.Write(piece)
		sent += n
		if err != nil {
			t.Fatalf("upload cut after %d of %d bytes: %v (the server got %d)", sent, total, err, got.Load())
		}
		if sent == 256<<10 {
			go func() { shut <- shutdownWithin(e, 20*time.Second) }()
		}
		time.Sleep(3 * time.Millisecond) // the client's pace: quiet moments on the server
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return got.Load() == total }, "the server got %d of %d bytes", got.Load(), total)
	c.Close()
	if err := testutil.Recv(t, shut, 20*time.Second, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
