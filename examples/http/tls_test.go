package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/shard"
)

// tlsStart serves the http server over TLS, as main does with -tls-cert and
// -tls-key, with the test fixture's certificate; it returns the engine and the
// CA file that verifies it.
func tlsStart(t *testing.T) (e *shard.Engine, caFile string) {
	t.Helper()
	ca, cert, key := testutil.TLS(t).WriteFiles(t, t.TempDir())
	return sStart(t, "-tls-cert", cert, "-tls-key", key), ca
}

// port is the port e listens on.
func port(e *shard.Engine) string {
	_, p, _ := net.SplitHostPort(e.Addrs()[0].String())
	return p
}

// tlsTool finds curl or openssl, or skips the test.
func tlsTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}

// runWithInput runs a tool with stdin fed by feed (which may pace its writes),
// bounded by waitLimit, and returns its combined output.
func runWithInput(t *testing.T, feed func(w io.Writer), path string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.WaitDelay = time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	feed(in)
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %s: %v\n%s", path, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestHTTPSWithCurl: curl, verifying the certificate against the CA, gets 200
// and the body over HTTPS, with http/1.1 chosen by ALPN.
func TestHTTPSWithCurl(t *testing.T) {
	curl := tlsTool(t, "curl")
	e, ca := tlsStart(t)
	url := "https://localhost:" + port(e) + "/plaintext"
	out := runWithInput(t, func(io.Writer) {}, curl, "-sS", "-v", "--max-time", "10", "--cacert", ca, url, url)
	for _, want := range []string{"ALPN: server accepted http/1.1", "< HTTP/1.1 200 OK"} {
		if !strings.Contains(out, want) {
			t.Fatalf("curl output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "Hello, World!"); n != 2 {
		t.Fatalf("curl got %d bodies, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "Re-using existing connection") {
		t.Fatalf("curl did not keep the TLS conn alive for its second request:\n%s", out)
	}
}

// TestHTTPSWithOpenSSLClient: openssl s_client negotiates http/1.1 by ALPN,
// verifies the certificate, and gets its response; a KeyUpdate it asks for
// (the K command) is answered with the server's own, and the next request is
// still served.
func TestHTTPSWithOpenSSLClient(t *testing.T) {
	openssl := tlsTool(t, "openssl")
	e, ca := tlsStart(t)
	feed := func(w io.Writer) {
		time.Sleep(300 * time.Millisecond) // s_client reads commands only once connected
		io.WriteString(w, "K\n")
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "GET /json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		time.Sleep(500 * time.Millisecond)
	}
	out := runWithInput(t, feed, openssl, "s_client", "-connect", "127.0.0.1:"+port(e), "-servername", "localhost",
		"-alpn", "http/1.1", "-CAfile", ca, "-verify_return_error", "-msg")
	for _, want := range []string{
		"ALPN protocol: http/1.1",
		"Verify return code: 0 (ok)",
		">>> TLS 1.3, Handshake [length 0005], KeyUpdate",
		"<<< TLS 1.3, Handshake [length 0005], KeyUpdate", // the server's answer
		`{"message":"Hello, World!"}`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("openssl s_client output lacks %q:\n%s", want, out)
		}
	}
}

// TestHTTPSWithGoClient: net/http's client over crypto/tls, keep-alive, many
// requests on a few conns, each verified.
func TestHTTPSWithGoClient(t *testing.T) {
	e, _ := tlsStart(t)
	tr := &http.Transport{TLSClientConfig: testutil.TLS(t).ClientConfig(), MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: waitLimit}
	for i := range 50 {
		resp, err := client.Get("https://127.0.0.1:" + port(e) + "/plaintext")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(body) != "Hello, World!" {
			t.Fatalf("request %d: %d %q %v", i, resp.StatusCode, body, err)
		}
		if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
			t.Fatalf("request %d: not over TLS 1.3: %+v", i, resp.TLS)
		}
	}
}

// TestPlainHTTPOnTheHTTPSPortIsClosed: a plaintext request to the TLS port gets
// no answer and a close; the server goes on serving HTTPS.
func TestPlainHTTPOnTheHTTPSPortIsClosed(t *testing.T) {
	e, _ := tlsStart(t)
	cl := dial(t, e.Addrs()[0].String())
	cl.send("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, err := cl.r.ReadString('\n'); err == nil {
		t.Fatalf("plaintext got an answer: %q", line)
	}
	tc, err := tls.Dial("tcp", "127.0.0.1:"+port(e), testutil.TLS(t).ClientConfig())
	if err != nil {
		t.Fatalf("TLS after plaintext: %v", err)
	}
	tc.Close()
}
