package shard

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// startTLSEcho serves echo over TLS on two loops.
func startTLSEcho(t *testing.T) (*Engine, string) {
	t.Helper()
	return startEcho(t, Options{Loops: 2, Conn: transport.Config{TLS: &transport.TLS{Config: testutil.TLS(t).ServerConfig()}}})
}

// TestTLSListenersServeTLSOnEveryLoop: with Options.Conn.TLS, conns that land on
// either loop speak TLS; a plaintext client is refused and counted out, so the
// engine's open count returns to zero.
func TestTLSListenersServeTLSOnEveryLoop(t *testing.T) {
	e, addr := startTLSEcho(t)
	for i := range 4 {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, testutil.TLS(t).ClientConfig())
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		roundTrip(t, c, []byte("over tls"))
		c.Close()
	}
	plain := dial(t, "tcp", addr)
	plain.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	if _, err := plain.Read(make([]byte, 1)); err == nil {
		t.Fatal("a plaintext client got bytes back")
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.Stats().Total.Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d conns still counted open", e.Stats().Total.Open)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := e.Stats().Total; s.Accepted != 5 || s.Closed != 5 {
		t.Fatalf("accepted %d, closed %d; want 5 and 5", s.Accepted, s.Closed)
	}
}

// TestDialConfigMakesATLSClient: an engine dials a TLS server with DialConfig;
// OnOpen follows the handshake, and the echo comes back. Dial leaves the
// listeners' TLS out, so a plain Dial to a plain echo still works.
func TestDialConfigMakesATLSClient(t *testing.T) {
	_, addr := startTLSEcho(t)
	client := newEngine(t, Options{Loops: 1, Conn: transport.Config{TLS: &transport.TLS{Config: testutil.TLS(t).ServerConfig()}}})
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	closed := make(chan error, 1)
	h := &handlerFunc{
		open: func(c *transport.Conn) {
			if st, ok := c.ConnectionState(); !ok || !st.HandshakeComplete {
				t.Errorf("ConnectionState in OnOpen: %v %v", st.HandshakeComplete, ok)
			}
			c.Write([]byte("ping over tls"))
		},
		data: func(c *transport.Conn) {
			if c.Buffered() >= len("ping over tls") {
				b, _ := c.Next(-1)
				got <- bytes.Clone(b)
				c.Close()
			}
		},
		close: func(_ *transport.Conn, err error) { closed <- err },
	}
	cfg := transport.Config{TLS: &transport.TLS{Config: testutil.TLS(t).ClientConfig()}}
	if _, err := client.DialConfig("tcp", addr, h, cfg); err != nil {
		t.Fatalf("DialConfig: %v", err)
	}
	if b := testutil.Recv(t, got, 10*time.Second, "the echo"); string(b) != "ping over tls" {
		t.Fatalf("echo %q", b)
	}
	if err := testutil.Recv(t, closed, 10*time.Second, "OnClose"); err != nil {
		t.Fatalf("OnClose(%v) after Close", err)
	}

	_, plainAddr := startEcho(t, Options{Loops: 1})
	plainClosed := make(chan error, 1)
	ph := &handlerFunc{open: func(c *transport.Conn) { c.Close() }, close: func(_ *transport.Conn, err error) { plainClosed <- err }}
	if _, err := client.Dial("tcp", plainAddr, ph); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Recv(t, plainClosed, 10*time.Second, "the plain conn's OnClose"); err != nil {
		t.Fatalf("plain Dial from a TLS engine: OnClose(%v)", err)
	}
}

// TestDialConfigTLSToAnUntrustedServerFailsThroughOnClose: the certificate does
// not verify, so OnClose gets the handshake's error and OnOpen never runs.
func TestDialConfigTLSToAnUntrustedServerFailsThroughOnClose(t *testing.T) {
	_, addr := startTLSEcho(t)
	client := newEngine(t, Options{Loops: 1})
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	h := &handlerFunc{
		open:  func(*transport.Conn) { t.Error("OnOpen after a failed handshake") },
		close: func(_ *transport.Conn, err error) { closed <- err },
	}
	cfg := transport.Config{TLS: &transport.TLS{Config: &tls.Config{ServerName: "localhost"}}} // system roots only
	if _, err := client.DialConfig("tcp", addr, h, cfg); err != nil {
		t.Fatal(err)
	}
	err := testutil.Recv(t, closed, 10*time.Second, "OnClose")
	var verify *tls.CertificateVerificationError
	if !errors.As(err, &verify) {
		t.Fatalf("OnClose(%v), want the handshake's certificate error", err)
	}
}
