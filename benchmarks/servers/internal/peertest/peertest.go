// Package peertest tests a peer server from its own package, as the harness
// runs it: the package's test binary doubles as the server (Main), and a test
// starts it on a loopback port with harness.Start (Start), does one round
// trip (HTTP or Echo), and stops it, checking that it exits cleanly on
// SIGTERM.
package peertest

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// serveEnv, when set, makes the test binary the server: its value is the
// command line, split on spaces.
const serveEnv = "PEERTEST_SERVE"

// timeout bounds each round trip.
const timeout = 10 * time.Second

// Main is a peer package's TestMain. With PEERTEST_SERVE set it runs
// serve (the package's main) with that command line and exits; otherwise it
// runs the tests, failing the run if one leaves a goroutine or an fd behind.
func Main(m *testing.M, serve func()) {
	if args, ok := os.LookupEnv(serveEnv); ok {
		os.Args = append([]string{os.Args[0]}, strings.Fields(args)...)
		serve()
		os.Exit(0)
	}
	testutil.VerifyMain(m)
}

// Start runs the test binary as the server, with -addr and args, and stops it
// when the test ends, failing the test unless it exits on SIGTERM.
func Start(t *testing.T, kind string, args ...string) *harness.Proc {
	t.Helper()
	return harness.StartTest(t, server(t, kind, args))
}

// StartUDP is Start for a server that serves UDP only (a DNS server), which
// is up once it has bound its port.
func StartUDP(t *testing.T, kind string, args ...string) *harness.Proc {
	t.Helper()
	s := server(t, kind, args)
	s.Network = "udp"
	return harness.StartTest(t, s)
}

// server is the test binary as a server of kind, with -addr and args.
func server(t *testing.T, kind string, args []string) harness.Server {
	return harness.Server{
		Name: t.Name(),
		Kind: kind,
		Args: []string{os.Args[0]},
		Env:  []string{serveEnv + "=-addr {addr} " + strings.Join(args, " ")},
	}
}

// Modes starts the server once in each mode, -mode http and -mode echo,
// with args after the mode, does one round trip with each (HTTP, Echo) and
// stops it.
func Modes(t *testing.T, args ...string) {
	t.Run("http", func(t *testing.T) { HTTP(t, Start(t, "http", append([]string{"-mode", "http"}, args...)...)) })
	t.Run("echo", func(t *testing.T) { Echo(t, Start(t, "echo", append([]string{"-mode", "echo"}, args...)...)) })
}

// HTTP checks that the server at p answers GET /plaintext with 200 and
// "Hello, World!" as text/plain with a Date header and a Content-Length; a
// pipelined burst of 16 GETs, sent in one write, with 16 such responses; and
// a POST whose body comes in a later read, with a GET behind it, with two.
func HTTP(t *testing.T, p *harness.Proc) {
	t.Helper()
	resp, body, err := getPlaintext(t, p, "http", &http.Transport{})
	if err != nil || resp.StatusCode != 200 || body != "Hello, World!" ||
		resp.Header.Get("Date") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || resp.ContentLength != 13 {
		t.Fatalf("GET = %d %q %v, header %v; want 200 Hello, World! as text/plain with a Date and a Content-Length",
			resp.StatusCode, body, err, resp.Header)
	}

	req := "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	pipelined := dial(t, p)
	if _, err := pipelined.Write([]byte(strings.Repeat(req, 16))); err != nil {
		t.Fatal(err)
	}
	expectResponses(t, pipelined, 16)

	// A request whose body comes in a later read, with the next request.
	split := dial(t, p)
	if _, err := split.Write([]byte("POST /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nabc")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := split.Write([]byte("defghij" + req)); err != nil {
		t.Fatal(err)
	}
	expectResponses(t, split, 2)
}

// expectResponses reads from c until n "Hello, World!" bodies have come, and
// checks they came with n 200 status lines.
func expectResponses(t *testing.T, c net.Conn, n int) {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	for bytes.Count(got, []byte("Hello, World!")) < n {
		k, err := c.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			t.Fatalf("%d of %d responses, then %v:\n%s", bytes.Count(got, []byte("Hello, World!")), n, err, got)
		}
	}
	if k := bytes.Count(got, []byte("HTTP/1.1 200 OK\r\n")); k != n {
		t.Fatalf("%d 200 status lines in %q, want %d", k, got, n)
	}
}

// Echo checks that the server at p writes back a RESP PING, the bytes
// redis-benchmark's ping_mbulk sends.
func Echo(t *testing.T, p *harness.Proc) {
	t.Helper()
	c := dial(t, p)
	ping := []byte("*1\r\n$4\r\nPING\r\n")
	if _, err := c.Write(ping); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(ping))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, ping) {
		t.Fatalf("echo = %q, %v; want %q", got, err, ping)
	}
}

// dial connects to p, closing the conn when the test ends.
func dial(t *testing.T, p *harness.Proc) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(timeout))
	return c
}

// Cert writes a throwaway certificate into a temp dir of the test.
func Cert(t *testing.T) harness.Cert {
	t.Helper()
	c, err := harness.SelfSignedCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TLSArgs are the flags that make a peer server serve TLS with cert.
func TLSArgs(cert harness.Cert) []string {
	return []string{"-tls-cert", cert.CertFile, "-tls-key", cert.KeyFile}
}

// HTTPS checks that the server at p serves GET /plaintext over TLS with cert
// ("Hello, World!", HTTP/1.1 negotiated in ALPN), and that it answers a
// request with Connection: close with Connection: close and then ends the
// conn: wrk reconnects only then, and the harness's load of one handshake per
// request rests on it.
func HTTPS(t *testing.T, p *harness.Proc, cert harness.Cert) {
	t.Helper()
	resp, body, err := getPlaintext(t, p, "https", &http.Transport{TLSClientConfig: cert.ClientConfig("http/1.1")})
	if err != nil || resp.StatusCode != 200 || body != "Hello, World!" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("GET = %d %q %v, TLS %+v; want 200 Hello, World! with http/1.1 negotiated", resp.StatusCode, body, err, resp.TLS)
	}

	c := dialTLS(t, p, cert.ClientConfig("http/1.1"))
	if _, err := c.Write([]byte("GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil && err != io.ErrUnexpectedEOF { // a server may end the stream without close_notify
		t.Fatalf("reading to the end after Connection: close: %v after %q", err, got)
	}
	if !bytes.Contains(bytes.ToLower(got), []byte("\r\nconnection: close\r\n")) || !bytes.HasSuffix(got, []byte("Hello, World!")) {
		t.Fatalf("response to Connection: close = %q; want Hello, World! with Connection: close, then the end", got)
	}
}

// EchoTLS checks that the server at p, serving TLS with cert, echoes the
// plaintext of a RESP PING.
func EchoTLS(t *testing.T, p *harness.Proc, cert harness.Cert) {
	t.Helper()
	c := dialTLS(t, p, cert.ClientConfig())
	ping := []byte("*1\r\n$4\r\nPING\r\n")
	if _, err := c.Write(ping); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(ping))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, ping) {
		t.Fatalf("echo = %q, %v; want %q", got, err, ping)
	}
}

// dialTLS connects to p and completes a TLS handshake with cfg, closing the
// conn when the test ends.
func dialTLS(t *testing.T, p *harness.Proc, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", p.Addr, cfg)
	if err != nil {
		t.Fatalf("TLS dial: %v\nlog:\n%s", err, p.Log())
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(timeout))
	return c
}

// HTTPAndHTTPS is an HTTP peer's whole test: one request in the clear (plain
// and pipelined, see HTTP) and, with -tls-cert and -tls-key, over TLS (see
// HTTPS).
func HTTPAndHTTPS(t *testing.T) {
	t.Run("http", func(t *testing.T) { HTTP(t, Start(t, "http")) })
	t.Run("https", func(t *testing.T) {
		cert := Cert(t)
		HTTPS(t, Start(t, "http", TLSArgs(cert)...), cert)
	})
}

// getPlaintext makes one GET /plaintext to p over scheme through tr, failing
// the test if no response comes; it returns the response and its body, with
// the error of reading the body.
func getPlaintext(t *testing.T, p *harness.Proc, scheme string, tr *http.Transport) (*http.Response, string, error) {
	t.Helper()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout}
	resp, err := client.Get(scheme + "://" + p.Addr + "/plaintext")
	if err != nil {
		t.Fatalf("GET: %v\nlog:\n%s", err, p.Log())
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), err
}
