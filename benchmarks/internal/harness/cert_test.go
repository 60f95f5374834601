package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"
)

func TestSelfSignedCertIsP256AndValidForLoopback(t *testing.T) {
	c, err := SelfSignedCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		t.Fatalf("LoadX509KeyPair: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("public key %T, want ECDSA P-256", leaf.PublicKey)
	}
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: c.Pool}); err != nil {
			t.Errorf("Verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: c.Pool}); err == nil {
		t.Error("Verify for example.com succeeded")
	}
	if !leaf.NotBefore.Before(time.Now()) || !leaf.NotAfter.After(time.Now().Add(24*time.Hour)) {
		t.Errorf("valid %v to %v, want from before now to at least a day on", leaf.NotBefore, leaf.NotAfter)
	}
}

// Two certificates made one after the other are different keys, and a client
// with one's ClientConfig completes a handshake (and a round trip) only with it.
func TestCertClientConfigTrustsOnlyItsCert(t *testing.T) {
	a, err := SelfSignedCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := SelfSignedCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(a.CertFile, a.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.Copy(c, c) // echo until the client closes (or fails the handshake)
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()

	dial := func(c Cert) error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), c.ClientConfig())
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte("ping")); err != nil {
			return err
		}
		got := make([]byte, 4)
		_, err = io.ReadFull(conn, got)
		return err
	}
	if err := dial(a); err != nil {
		t.Fatalf("with its own cert: %v", err)
	}
	if err := dial(b); err == nil {
		t.Fatal("a client trusting another cert completed the handshake")
	}
}
