//go:build linux

package transport_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// TestTLSUploadRightBehindTheFinishedWaitsForTheHandshake: a TLS 1.3 client is
// done with its handshake once it has sent its Finished, and sends a 4 MiB
// upload at once, while the server's handshake goroutine is held (in
// VerifyConnection). The loop stops reading once the handshake holds 64 KiB it
// has not consumed, instead of buffering the upload or refusing the conn; once
// the handshake ends every byte is echoed.
func TestTLSUploadRightBehindTheFinishedWaitsForTheHandshake(t *testing.T) {
	hold := make(chan struct{})
	h := newRecordingHandler()
	h.data = echoAll
	_, addr := serveTLS(t, h, func(cfg *transport.TLS) {
		cfg.Config = cfg.Config.Clone()
		cfg.Config.VerifyConnection = func(tls.ConnectionState) error {
			<-hold
			return nil
		}
	})
	c := dialTLS(t, addr, nil) // returns once the client's side is done
	msg := randomPattern(31, 4<<20)
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(msg); wrote <- err }()
	// While the handshake is held, the conn must neither close (the upload
	// refused, as it was when the handshake's input had a hard limit) nor
	// open; 200 ms is far longer than the upload takes to fill the kernel's
	// buffers on loopback.
	select {
	case cl := <-h.closed:
		t.Fatalf("the server closed the conn while its handshake was held: %v", cl.err)
	case <-h.opened:
		t.Fatal("OnOpen while the handshake was held")
	case <-time.After(200 * time.Millisecond):
	}
	close(hold)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		select {
		case cl := <-h.closed:
			t.Logf("server OnClose: %v", cl.err)
		default:
		}
		t.Fatalf("echo of the upload: %v", err)
	}
	if err := testutil.Recv(t, wrote, waitFor, "the client's write"); err != nil {
		t.Fatal(err)
	}
}

// TestTLSHandshakeThatRunsDryAsksThePausedLoopToReadOn: with the pause set
// below a ClientHello's size, the loop stops reading as soon as the ClientHello
// is in; the handshake consumes it, runs dry waiting for the client's Finished,
// and asks the loop to read on, so the handshake (and an echo) completes.
func TestTLSHandshakeThatRunsDryAsksThePausedLoopToReadOn(t *testing.T) {
	transport.SetHandshakeInputPause(t, 64)
	h := newRecordingHandler()
	h.data = echoAll
	_, addr := serveTLS(t, h, nil)
	for i := range 5 {
		c := dialTLS(t, addr, nil)
		msg := randomPattern(uint64(40+i), 70000)
		go c.Write(msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("client %d: echo: %v", i, err)
		}
	}
}
