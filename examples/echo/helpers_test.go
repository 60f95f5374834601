package main

import (
	"net"
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
const testWait = 20 * time.Second

// testFlags are the flags of a test server: a kernel-chosen loopback port, two
// loops, round-robin so that concurrent clients land on both loops, and no
// drain, so that cancelling the server closes it at once.
func testFlags() *cli.Flags {
	return &cli.Flags{Addr: "127.0.0.1:0", Loops: 2, Balance: "round-robin"}
}

// startEcho serves the echo handler with f as main does, through cli.Serve,
// and returns the running engine; it stops when the test ends.
func startEcho(t testing.TB, f *cli.Flags) *shard.Engine {
	t.Helper()
	return clitest.Start(t, f, func(*shard.Engine) (transport.Handler, error) { return echo{}, nil }, testWait)
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
