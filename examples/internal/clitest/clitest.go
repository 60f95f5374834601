// Package clitest starts an example's server inside its tests the way the
// example's main does, through cli.Serve, and stops it when the test ends.
package clitest

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

// Start serves setup's handler with f through cli.Serve and returns the running
// engine. When the test ends, the server's context is cancelled and the
// cleanup waits (at most wait) for Serve to return; a server that does not
// start within wait fails the test.
func Start(t testing.TB, f *cli.Flags, setup func(*shard.Engine) (transport.Handler, error), wait time.Duration) *shard.Engine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *shard.Engine, 1)
	served := make(chan error, 1)
	go func() {
		served <- cli.Serve(ctx, f, setup, func(e *shard.Engine) { ready <- e })
	}()
	t.Cleanup(func() {
		cancel()
		if err := testutil.Recv(t, served, wait, "Serve to return"); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case e := <-ready:
		return e
	case err := <-served:
		t.Fatalf("Serve returned before the engine ran: %v", err)
	case <-time.After(wait):
		t.Fatalf("the engine did not start within %v", wait)
	}
	return nil
}

// Flags are the flags of a test server: a kernel-chosen loopback port, two
// loops, round-robin so that concurrent clients land on both loops, and no
// drain, so that cancelling the server closes it at once.
func Flags() *cli.Flags {
	return &cli.Flags{Addr: "127.0.0.1:0", Loops: 2, Balance: "round-robin"}
}

// Dial connects to e's first address with a deadline of wait on every
// operation; the conn is closed when the test ends.
func Dial(t testing.TB, e *shard.Engine, wait time.Duration) net.Conn {
	t.Helper()
	addr := e.Addrs()[0]
	conn, err := net.DialTimeout(addr.Network(), addr.String(), wait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(wait))
	return conn
}
