//go:build linux

package transport_test

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// captureClientHello returns the first record a crypto/tls client with cfg
// writes: its ClientHello, whole (header and body), as a stalled or fuzzing
// peer replays it. The client runs over a net.Pipe and is ended before this
// returns.
func captureClientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	clientEnd, captureEnd := net.Pipe()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		tls.Client(clientEnd, cfg).Handshake() // fails once the pipe closes
	}()
	defer func() {
		captureEnd.Close()
		clientEnd.Close()
		testutil.Recv(t, ended, waitFor, "the capturing client's end")
	}()
	captureEnd.SetDeadline(time.Now().Add(waitFor))
	header := make([]byte, 5)
	if _, err := io.ReadFull(captureEnd, header); err != nil {
		t.Fatalf("capture the ClientHello's header: %v", err)
	}
	if header[0] != 22 {
		t.Fatalf("the client's first record has type %d, want 22 (handshake)", header[0])
	}
	record := make([]byte, 5+(int(header[3])<<8|int(header[4])))
	copy(record, header)
	if _, err := io.ReadFull(captureEnd, record[5:]); err != nil {
		t.Fatalf("capture the ClientHello's body: %v", err)
	}
	return record
}

// dialTLSOver connects a crypto/tls client with cfg to addr over a plain TCP
// conn with receive buffer rcvBuf (0: the default) and completes its
// handshake. It returns the TLS conn and the TCP conn under it (to cut the
// stream without close_notify); both have deadlines and close when the test
// ends.
func dialTLSOver(t testing.TB, addr string, cfg *tls.Config, rcvBuf int) (*tls.Conn, *net.TCPConn) {
	t.Helper()
	raw := dial(t, addr, rcvBuf)
	tc := tls.Client(raw, cfg)
	t.Cleanup(func() { tc.Close() })
	if err := tc.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	return tc, raw
}

// stallHandshake connects a plain TCP client to addr that sends part (all of
// it, or the first bytes) of a ClientHello and then nothing. With the whole
// ClientHello it waits until the server's first flight arrives: the server's
// handshake goroutine has then run and waits for the client's Finished, which
// never comes.
func stallHandshake(t testing.TB, addr string, part []byte, whole bool) *net.TCPConn {
	t.Helper()
	c := dial(t, addr, 0)
	if _, err := c.Write(part); err != nil {
		t.Fatalf("send a stalled ClientHello: %v", err)
	}
	if whole {
		awaitServerFlight(t, c)
	}
	return c
}

// awaitServerFlight waits (bounded) for the first bytes of the server's answer
// to a ClientHello sent on c.
func awaitServerFlight(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitFor))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		t.Fatalf("no ServerHello for a stalled ClientHello: %v", err)
	}
	if b[0] != 22 {
		t.Fatalf("the server answered a ClientHello with record type %d, want 22", b[0])
	}
}

// tlsState is a server conn's TLS state as OnOpen saw it.
type tlsState struct {
	state tls.ConnectionState
	ok    bool
}

// recordStates makes h's OnOpen send each conn's ConnectionState to the
// returned channel.
func recordStates(h *recordingHandler) <-chan tlsState {
	states := make(chan tlsState, 64)
	h.open = func(c *transport.Conn) {
		s, ok := c.ConnectionState()
		states <- tlsState{s, ok}
	}
	return states
}

// plaintextSink collects the plaintext a handler's conns read, for the test
// goroutine to wait on.
type plaintextSink struct {
	mu   sync.Mutex
	buf  []byte
	more chan struct{} // a token after each append
}

func newPlaintextSink() *plaintextSink { return &plaintextSink{more: make(chan struct{}, 1)} }

// onData is a recordingHandler data hook that consumes and keeps everything.
func (r *plaintextSink) onData(c *transport.Conn) {
	b, _ := c.Next(-1)
	r.mu.Lock()
	r.buf = append(r.buf, b...)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// await waits (bounded) until n bytes are in and returns them.
func (r *plaintextSink) await(t testing.TB, n int) []byte {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		r.mu.Lock()
		got := append([]byte(nil), r.buf...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("the server read %d bytes (%q), want %d", len(got), truncate(got), n)
		}
	}
}

// truncate keeps a failure message short.
func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// noOpen fails the test if h saw an OnOpen.
func noOpen(t testing.TB, h *recordingHandler) {
	t.Helper()
	select {
	case <-h.opened:
		t.Fatal("OnOpen ran for a conn whose handshake failed")
	default:
	}
}
