package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/proxyproto"
)

// TestWhoamiBehindAProxyHeader: with -proxy-protocol, /whoami answers the
// address in the PROXY header (v1 and v2, IPv4 and IPv6), text/plain; a conn
// without a header, with a malformed one, or from outside -proxy-trust is
// closed unanswered, and the server serves on.
func TestWhoamiBehindAProxyHeader(t *testing.T) {
	e := sStart(t, "-proxy-protocol")
	addr := e.Addrs()[0].String()
	for _, tc := range []struct {
		src     string
		version int
	}{
		{"198.51.100.23:51234", 1}, {"198.51.100.23:51234", 2},
		{"[2001:db8::23]:51235", 1}, {"[2001:db8::23]:51235", 2},
	} {
		src := netip.MustParseAddrPort(tc.src)
		network, dst := "tcp4", netip.MustParseAddrPort("192.0.2.1:80")
		if src.Addr().Is6() {
			network, dst = "tcp6", netip.MustParseAddrPort("[2001:db8::1]:80")
		}
		h := proxyproto.Header{Network: network, Source: src, Dest: dst}
		var hdr []byte
		var err error
		if tc.version == 1 {
			hdr, err = proxyproto.AppendV1(nil, h)
		} else {
			hdr, err = proxyproto.AppendV2(nil, h)
		}
		if err != nil {
			t.Fatal(err)
		}
		cl := dial(t, addr)
		cl.send(string(hdr) + "GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := cl.read("GET")
		if resp.StatusCode != 200 || body != tc.src || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("v%d %s: %d %q (%s)", tc.version, tc.src, resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
	}
	for _, raw := range []string{"GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n", "PROXY TCP4 1.2.3.4 nope\r\n\r\n"} {
		cl := dial(t, addr)
		cl.send(raw)
		if line, err := cl.r.ReadString('\n'); err == nil {
			t.Fatalf("%q was answered: %q", raw, line)
		}
	}
	untrusted := sStart(t, "-proxy-protocol", "-proxy-trust", "10.0.0.0/8")
	cl := dial(t, untrusted.Addrs()[0].String())
	hdr, _ := proxyproto.AppendV1(nil, proxyproto.Header{Network: "tcp4", Source: netip.MustParseAddrPort("1.2.3.4:5"), Dest: netip.MustParseAddrPort("5.6.7.8:80")})
	cl.send(string(hdr) + "GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, err := cl.r.ReadString('\n'); err == nil {
		t.Fatalf("a header from outside -proxy-trust was answered: %q", line)
	}
}

// TestWhoamiBehindHAProxy: a real HAProxy on loopback with send-proxy-v2 in
// front of the server; curl --local-port picks the client's port, and /whoami
// answers it, not HAProxy's.
func TestWhoamiBehindHAProxy(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skipf("haproxy not installed (Debian: apt-get install haproxy; make test's set-up tries): %v", err)
	}
	curl := tlsTool(t, "curl")
	e := sStart(t, "-proxy-protocol")
	front := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "haproxy.cfg")
	conf := fmt.Sprintf(`global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend front
    bind 127.0.0.1:%d
    default_backend back
backend back
    server sycamore %s send-proxy-v2
`, front, e.Addrs()[0].String())
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hp := exec.CommandContext(ctx, haproxy, "-db", "-f", cfg)
	var hpOut strings.Builder
	hp.Stdout, hp.Stderr = &hpOut, &hpOut
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { hp.Process.Kill(); hp.Wait() }()
	if !waitUntil(waitLimit, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(front))
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("haproxy did not listen:\n%s", hpOut.String())
	}
	local := freePort(t)
	out := runWithInput(t, func(io.Writer) {}, curl, "-sS", "--max-time", "10", "--local-port", strconv.Itoa(local),
		"http://127.0.0.1:"+strconv.Itoa(front)+"/whoami")
	if want := "127.0.0.1:" + strconv.Itoa(local); out != want {
		t.Fatalf("/whoami through haproxy answered %q, want %q (the client's own port)", out, want)
	}
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
