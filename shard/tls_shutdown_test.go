package shard

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// holdingConn is a client's net.Conn that, once armed, writes only the first
// half of its next write and holds the rest until released.
type holdingConn struct {
	net.Conn
	mu    sync.Mutex
	armed bool
	rest  []byte
}

func (h *holdingConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.armed {
		return h.Conn.Write(p)
	}
	h.armed = false
	h.rest = append([]byte(nil), p[len(p)/2:]...)
	if _, err := h.Conn.Write(p[:len(p)/2]); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *holdingConn) release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.Conn.Write(h.rest)
	return err
}

// TestShutdownWaitsForTheRestOfATLSRecord: a TLS conn holding the first half
// of a record is not idle; Shutdown waits, the rest arrives, the request is
// answered, and only then is the conn closed (with close_notify).
func TestShutdownWaitsForTheRestOfATLSRecord(t *testing.T) {
	e, addr := startTLSEcho(t)
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hc := &holdingConn{Conn: raw}
	c := tls.Client(hc, testutil.TLS(t).ClientConfig())
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	roundTrip(t, c, []byte("hello"))

	hc.mu.Lock()
	hc.armed = true
	hc.mu.Unlock()
	msg := []byte("a request cut in the middle of its record")
	if _, err := c.Write(msg); err != nil { // half of the record reaches the server
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() { shut <- shutdownWithin(e, 10*time.Second) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a record was half in: the conn was taken for idle", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := hc.release(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
		t.Fatalf("echo after the rest of the record: %q, %v", got, err)
	}
	if err := testutil.Recv(t, shut, 10*time.Second, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after Shutdown the client read %d, %v; want io.EOF (close_notify)", n, err)
	}
}
