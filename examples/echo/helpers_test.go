package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// TestMain fails the run on leaked goroutines or fds.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// testWait bounds every wait in these tests. It is generous because the race
// detector on a two-core machine is slow; a passing test never waits this long.
const testWait = 20 * time.Second

// testFlags are the flags of a test server: a kernel-chosen loopback port, two
// loops, round-robin so that concurrent clients land on both loops, and no
// drain, so that cancelling the server closes it at once.
func testFlags() *cli.Flags {
	return &cli.Flags{Addr: "127.0.0.1:0", Loops: 2, Balance: "round-robin"}
}

// startEcho serves the echo handler with f as main does, through cli.Serve, and
// returns the running engine. When the test ends, the server's context is
// cancelled and the cleanup waits (bounded) for Serve to return.
func startEcho(t testing.TB, f *cli.Flags) *shard.Engine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *shard.Engine, 1)
	served := make(chan error, 1)
	setup := func(*shard.Engine) (transport.Handler, error) { return echo{}, nil }
	go func() {
		served <- cli.Serve(ctx, f, setup, func(e *shard.Engine) { ready <- e })
	}()
	t.Cleanup(func() {
		cancel()
		if err := testutil.Recv(t, served, testWait, "Serve to return"); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case e := <-ready:
		return e
	case err := <-served:
		t.Fatalf("Serve returned before the engine ran: %v", err)
	case <-time.After(testWait):
		t.Fatalf("the engine did not start within %v", testWait)
	}
	panic("unreachable")
}

// dial connects to the engine's first address with a deadline on every
// operation; the conn is closed when the test ends.
func dial(t testing.TB, e *shard.Engine) net.Conn {
	t.Helper()
	addr := e.Addrs()[0]
	conn, err := net.DialTimeout(addr.Network(), addr.String(), testWait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(testWait))
	return conn
}
