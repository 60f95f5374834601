package shard

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/balance"
	"github.com/sycamore-go/sycamore/internal/proxyproto"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// TestSourceHashKeysOnTheProxiedClient: behind a balancer every conn comes
// from one address, yet with Options.Proxy source-hash balancing sees the
// client in each PROXY header: conns from one client land on one loop, and 32
// clients spread over both loops; RemoteAddr is the client's.
func TestSourceHashKeysOnTheProxiedClient(t *testing.T) {
	type opened struct {
		loop   int
		remote string
	}
	got := make(chan opened, 128)
	h := &handlerFunc{open: func(c *transport.Conn) { got <- opened{c.Loop().ID(), c.RemoteAddr().String()} }}
	e := newEngine(t, Options{Loops: 2, Balancer: balance.SourceHash(),
		Proxy: &transport.ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	addr := serve(t, e, h)
	connect := func(client netip.AddrPort) opened {
		hdr, err := proxyproto.AppendV2(nil, proxyproto.Header{Network: "tcp4", Source: client, Dest: netip.MustParseAddrPort("192.0.2.1:80")})
		if err != nil {
			t.Fatal(err)
		}
		c := dial(t, "tcp", addr)
		if _, err := c.Write(hdr); err != nil {
			t.Fatal(err)
		}
		o := testutil.Recv(t, got, 10*time.Second, "OnOpen")
		if o.remote != client.String() {
			t.Fatalf("RemoteAddr %s, want the header's %s", o.remote, client)
		}
		return o
	}
	loops := map[int]bool{}
	for i := range 32 {
		client := netip.MustParseAddrPort(fmt.Sprintf("198.51.100.%d:40000", i+1))
		first := connect(client)
		again := connect(netip.AddrPortFrom(client.Addr(), 40001))
		if first.loop != again.loop {
			t.Fatalf("client %s landed on loops %d and %d", client.Addr(), first.loop, again.loop)
		}
		loops[first.loop] = true
	}
	if len(loops) != 2 {
		t.Fatalf("32 clients all landed on loop(s) %v: the balancer saw the proxy, not them", loops)
	}
}
