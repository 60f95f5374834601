package main

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/examples/internal/clitest"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// TestMain fails the run on leaked goroutines or fds.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// testWait bounds every wait in these tests. It is generous because the race
// detector on a two-core machine is slow; a passing test never waits this long.
const testWait = 60 * time.Second

// testFlags are clitest's standard test flags, configured as main configures
// the proxy's.
func testFlags() *cli.Flags {
	f := clitest.Flags()
	configure(f)
	return f
}

// startProxy serves a proxy to upstream through cli.Serve, as main does, and
// returns it with its engine; it stops when the test ends.
func startProxy(t testing.TB, upstream string) (*proxy, *shard.Engine) {
	t.Helper()
	var p *proxy
	setup := func(e *shard.Engine) (transport.Handler, error) {
		var err error
		p, err = newProxy(e, upstream, defaultHighWater)
		return p, err
	}
	e := clitest.Start(t, testFlags(), setup, testWait)
	return p, e
}

// startUpstream runs a plain net.Listener server on a loopback port: serve runs
// on a goroutine of its own for each conn, with a deadline set, and owns the
// conn (it need not close it). When the test ends, the listener and every conn
// are closed and the cleanup waits (bounded) for the goroutines.
func startUpstream(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("upstream listen: %v", err)
	}
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				conn.Close()
				return
			}
			conns = append(conns, conn)
			mu.Unlock()
			conn.SetDeadline(time.Now().Add(testWait))
			wg.Go(func() { serve(conn) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, conn := range conns {
			conn.Close()
		}
		mu.Unlock()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		testutil.Recv(t, done, testWait, "the upstream's goroutines to end")
	})
	return ln.Addr().String()
}

// dial connects to the proxy with a deadline on every operation; the conn is
// closed when the test ends.
func dial(t testing.TB, e *shard.Engine) *net.TCPConn {
	t.Helper()
	return clitest.Dial(t, e, testWait).(*net.TCPConn)
}

// refusedAddr returns a loopback address nobody listens on: a port the kernel
// just gave out and took back.
func refusedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
