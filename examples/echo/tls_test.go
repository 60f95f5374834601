package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/shard"
)

// tlsFlags parses the echo server's command line with -tls-cert and -tls-key
// on top of the test flags.
func tlsFlags(t *testing.T, args ...string) (*cli.Flags, error) {
	t.Helper()
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	f := cli.Register(fs, "127.0.0.1:0", false)
	f.RegisterTLS(fs)
	base := []string{"-addr", "127.0.0.1:0", "-loops", "2", "-balance", "round-robin", "-drain", "0s"}
	return f, fs.Parse(append(base, args...))
}

// startTLSEcho serves echo over TLS with the fixture's certificate.
func startTLSEcho(t *testing.T) (e *shard.Engine, caFile string) {
	t.Helper()
	ca, cert, key := testutil.TLS(t).WriteFiles(t, t.TempDir())
	f, err := tlsFlags(t, "-tls-cert", cert, "-tls-key", key)
	if err != nil {
		t.Fatal(err)
	}
	return startEcho(t, f), ca
}

// TestEchoOverTLS: a crypto/tls client's bytes come back decrypted, in order,
// from small writes to a megabyte.
func TestEchoOverTLS(t *testing.T) {
	e, _ := startTLSEcho(t)
	c, err := tls.Dial("tcp", e.Addrs()[0].String(), testutil.TLS(t).ClientConfig())
	if err != nil {
		t.Fatalf("tls.Dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testWait))
	for _, n := range []int{1, 1000, 64 << 10, 1 << 20} {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		go c.Write(msg)
		got := make([]byte, n)
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo of %d bytes: %v", n, err)
		}
	}
}

// TestEchoOverTLSWithOpenSSL: openssl s_client, verifying the certificate,
// gets its line back.
func TestEchoOverTLSWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skipf("openssl not installed: %v", err)
	}
	e, ca := startTLSEcho(t)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", e.Addrs()[0].String(),
		"-CAfile", ca, "-verify_return_error", "-servername", "localhost")
	cmd.WaitDelay = time.Second
	in, _ := cmd.StdinPipe()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // s_client reads stdin once connected
	io.WriteString(in, "sycamore over tls\n")
	time.Sleep(300 * time.Millisecond)
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("openssl s_client: %v\n%s", err, out.String())
	}
	if strings.Count(out.String(), "sycamore over tls") < 1 || !strings.Contains(out.String(), "Verify return code: 0 (ok)") {
		t.Fatalf("openssl s_client output:\n%s", out.String())
	}
}

// TestTLSFlagsAreCheckedAtStart: -tls-cert without -tls-key, and a missing
// file, stop the server before it starts, each saying why.
func TestTLSFlagsAreCheckedAtStart(t *testing.T) {
	_, cert, _ := testutil.TLS(t).WriteFiles(t, t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-tls-cert", cert}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-cert", cert, "-tls-key", "/nonexistent/key.pem"}, "no such file"},
	} {
		f, err := tlsFlags(t, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Options(nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%q: Options error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}
