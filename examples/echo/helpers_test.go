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

// startEcho serves the echo handler with f as main does, through cli.Serve,
// and returns the running engine; it stops when the test ends.
func startEcho(t testing.TB, f *cli.Flags) *shard.Engine {
	t.Helper()
	return clitest.Start(t, f, func(*shard.Engine) (transport.Handler, error) { return echo{}, nil }, testWait)
}

// dial connects to the engine with a deadline on every operation.
func dial(t testing.TB, e *shard.Engine) net.Conn {
	t.Helper()
	return clitest.Dial(t, e, testWait)
}
