//go:build linux

package transport_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// splitConn is a client's net.Conn that, once split is set, writes each Write
// of the tls.Conn (one record, after the handshake) in two parts, the first
// split(len) bytes and the rest, and calls between after the first.
type splitConn struct {
	net.Conn
	split   func(n int) int
	between func()
}

func (c *splitConn) Write(b []byte) (int, error) {
	if c.split == nil {
		return c.Conn.Write(b)
	}
	k := c.split(len(b))
	n, err := c.Conn.Write(b[:k])
	if err != nil {
		return n, err
	}
	c.between()
	m, err := c.Conn.Write(b[k:])
	return n + m, err
}

// serverReadAll runs the server's loop until it has read every byte that waits
// in sc's socket: the conn's Readable event comes in the round after the bytes
// (on loopback they are in when write returns).
func serverReadAll(t testing.TB, l *loop.Loop, sc *transport.Conn) {
	t.Helper()
	runRounds(t, l, 2)
	var inq int
	onLoop(t, l, func() { inq = kernelInq(t, sc.Fd()) })
	if inq != 0 {
		t.Fatalf("%d bytes still unread in the server's socket after two rounds", inq)
	}
}

// TestTLSRecordSplitAcrossReadsIsDelivered: a record whose first part the
// server reads alone (no whole record in that read), and the rest in a later
// read, is decrypted and delivered once it is whole. Each cut is tried: inside
// the header, right after it, inside the body.
func TestTLSRecordSplitAcrossReadsIsDelivered(t *testing.T) {
	for _, cut := range []struct {
		name  string
		split func(n int) int
	}{
		{"after 1 byte", func(int) int { return 1 }},
		{"inside the header", func(int) int { return 4 }},
		{"after the header", func(int) int { return 5 }},
		{"inside the body", func(n int) int { return n / 2 }},
		{"before the last byte", func(n int) int { return n - 1 }},
	} {
		t.Run(cut.name, func(t *testing.T) {
			h := newRecordingHandler()
			sink := newPlaintextSink()
			h.data = sink.onData
			l, addr := serveTLS(t, h, nil)
			sc := &splitConn{Conn: dial(t, addr, 0)}
			client := tls.Client(sc, testutil.TLS(t).ClientConfig())
			t.Cleanup(func() { client.Close() })
			if err := client.Handshake(); err != nil {
				t.Fatalf("client handshake: %v", err)
			}
			server := h.accept(t)
			sc.split = cut.split
			sc.between = func() { serverReadAll(t, l, server) }
			var want []byte
			for i := 0; i < 3; i++ {
				msg := fmt.Sprintf("record %d, cut %s", i, cut.name)
				if _, err := client.Write([]byte(msg)); err != nil {
					t.Fatalf("client write: %v", err)
				}
				want = append(want, msg...)
				if got := sink.await(t, len(want)); string(got) != string(want) {
					t.Fatalf("the server read %q, want %q", got, want)
				}
			}
		})
	}
}

// holdLoop runs a task on l that holds the loop until the returned release is
// called (or waitFor passes), and returns once the task runs: events that come
// meanwhile are delivered together in the round after.
func holdLoop(t testing.TB, l *loop.Loop) (release func()) {
	t.Helper()
	entered, released := make(chan struct{}), make(chan struct{})
	if err := l.Submit(func() {
		close(entered)
		select {
		case <-released:
		case <-time.After(waitFor):
		}
	}); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	testutil.Recv(t, entered, waitFor, "the loop to be held")
	var once bool
	release = func() {
		if !once {
			once = true
			close(released)
		}
	}
	t.Cleanup(release)
	return release
}

// TestTLSRecordsWrittenWhileReadingAreNotSentTwice: records that wait for room
// in the kernel (encrypted, held by the TLS layer) get it while the peer's
// bytes come in too, so that the read, which writes what the layer holds, runs
// before the Writable event's flush. They must go out once, followed by the
// echo of what came in.
func TestTLSRecordsWrittenWhileReadingAreNotSentTwice(t *testing.T) {
	const size = 64 << 10 // one chunk of the layer's encryption
	h := newRecordingHandler()
	h.open = func(c *transport.Conn) { setSndBuf(t, c, smallBuf) }
	h.data = echoAll
	l, addr := serveTLS(t, h, nil)
	client, _ := dialTLSOver(t, addr, testutil.TLS(t).ClientConfig(), smallBuf)
	server := h.accept(t)

	payload := randomPattern(13, size)
	onLoop(t, l, func() { server.Write(payload) }) // flushed at the round's end
	var queued int
	onLoop(t, l, func() { queued = server.Queued() })
	if queued == 0 {
		t.Fatal("precondition: the kernel took all of the payload; the layer holds none of it")
	}

	// Room in the kernel and the client's next record arrive while the loop is
	// held: the next round sees the conn readable and writable at once.
	release := holdLoop(t, l)
	if err := unix.SetsockoptInt(server.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20); err != nil {
		t.Fatalf("SO_SNDBUF: %v", err)
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatalf("client write: %v", err)
	}
	release()

	got := make([]byte, size+4)
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if !bytes.Equal(got[:size], payload) {
		t.Fatal("the client read different bytes than the server wrote")
	}
	if string(got[size:]) != "ping" {
		t.Fatalf("after the payload the client read %q, want the echo %q (the payload again: %v)",
			got[size:], "ping", bytes.Equal(got[size:], payload[:4]))
	}
}
