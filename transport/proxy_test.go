//go:build linux

package transport_test

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/proxyproto"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

var loopbackNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// serveProxied serves h behind a required PROXY header on a new loop.
func serveProxied(t *testing.T, h transport.Handler, p *transport.ProxyProtocol) (*loop.Loop, *transport.Listener) {
	t.Helper()
	l := startLoop(t, logLoopErrors(t))
	ln, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{ReuseAddr: true, Proxy: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	onLoop(t, l, func() { err = ln.Serve(l, h, transport.Config{}) })
	if err != nil {
		t.Fatal(err)
	}
	return l, ln
}

// remoteEcho answers every read with the conn's RemoteAddr, then the bytes.
func remoteEcho() *recordingHandler {
	h := newRecordingHandler()
	h.data = func(c *transport.Conn) {
		b, _ := c.Next(-1)
		c.Write([]byte(c.RemoteAddr().String() + " "))
		c.Write(b)
	}
	return h
}

// TestProxyHeaderGivesTheClientsAddress: v1 and v2 headers, IPv4 and IPv6, with
// a request in the same write: RemoteAddr is the header's source, and the
// request after the header reaches OnData whole. A LOCAL header keeps the
// socket's own peer address.
func TestProxyHeaderGivesTheClientsAddress(t *testing.T) {
	h := remoteEcho()
	_, ln := serveProxied(t, h, &transport.ProxyProtocol{Trusted: loopbackNets})
	v4 := proxyproto.Header{Network: "tcp4", Source: netip.MustParseAddrPort("203.0.113.7:40001"), Dest: netip.MustParseAddrPort("198.51.100.1:443")}
	v6 := proxyproto.Header{Network: "tcp6", Source: netip.MustParseAddrPort("[2001:db8::7]:40002"), Dest: netip.MustParseAddrPort("[2001:db8::1]:443")}
	for _, tc := range []struct {
		name   string
		header func() ([]byte, error)
		want   string
	}{
		{"v1 tcp4", func() ([]byte, error) { return proxyproto.AppendV1(nil, v4) }, "203.0.113.7:40001"},
		{"v1 tcp6", func() ([]byte, error) { return proxyproto.AppendV1(nil, v6) }, "[2001:db8::7]:40002"},
		{"v2 tcp4", func() ([]byte, error) { return proxyproto.AppendV2(nil, v4) }, "203.0.113.7:40001"},
		{"v2 tcp6", func() ([]byte, error) { return proxyproto.AppendV2(nil, v6) }, "[2001:db8::7]:40002"},
		{"v2 local", func() ([]byte, error) { return proxyproto.AppendV2(nil, proxyproto.Header{Local: true}) }, ""},
	} {
		hdr, err := tc.header()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c := dial(t, ln.Addr().String(), 0)
		c.Write(append(hdr, "hello"...))
		want := tc.want
		if want == "" {
			want = c.LocalAddr().String()
		}
		want += " hello"
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
			t.Fatalf("%s: got %q (%v), want %q", tc.name, got, err, want)
		}
	}
}

// TestProxyHeaderRefusals: a header from an untrusted peer, plaintext with no
// header, a malformed header and a header that never ends are each refused
// (closed, no conn made, counted); a good conn is served after them.
func TestProxyHeaderRefusals(t *testing.T) {
	h := remoteEcho()
	l, ln := serveProxied(t, h, &transport.ProxyProtocol{Trusted: loopbackNets, HeaderTimeout: 200 * time.Millisecond})
	good, _ := proxyproto.AppendV1(nil, proxyproto.Header{Network: "tcp4", Source: netip.MustParseAddrPort("192.0.2.1:1000"), Dest: netip.MustParseAddrPort("192.0.2.2:80")})
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"no header", []byte("GET / HTTP/1.1\r\n\r\n")},
		{"malformed", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\nhello")},
		{"late", good[:10]},
	} {
		c := dial(t, ln.Addr().String(), 0)
		c.Write(tc.send)
		start := time.Now()
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("%s: the server answered %d bytes", tc.name, n)
		}
		if tc.name == "late" && time.Since(start) < 150*time.Millisecond {
			t.Fatalf("late header refused after %v, before the 200ms timeout", time.Since(start))
		}
	}
	c := dial(t, ln.Addr().String(), 0)
	c.Write(append(good, "x"...))
	got := make([]byte, len("192.0.2.1:1000 x"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "192.0.2.1:1000 x" {
		t.Fatalf("a good conn after the refusals: %q %v", got, err)
	}
	var refused uint64
	onLoop(t, l, func() { refused = ln.ProxyRefused() })
	if refused != 3 {
		t.Fatalf("ProxyRefused %d, want 3", refused)
	}
	select {
	case <-h.opened:
	default:
		t.Fatal("the good conn did not open")
	}
	if len(h.opened) != 0 {
		t.Fatalf("%d refused conns were opened", len(h.opened))
	}

	// A peer outside Trusted is refused whatever it sends.
	_, strict := serveProxied(t, remoteEcho(), &transport.ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	c = dial(t, strict.Addr().String(), 0)
	c.Write(append(good, "x"...))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("an untrusted peer's header was taken")
	}
	if _, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{Proxy: &transport.ProxyProtocol{}}); err == nil {
		t.Fatal("Listen took a ProxyProtocol that trusts no one")
	}
}
