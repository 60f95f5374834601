package main

import (
	"testing"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peertest"
)

func TestMain(m *testing.M) { peertest.Main(m, main) }

// TestModes serves one request (plain and pipelined) and one echo on each of
// gnet's thread modes.
func TestModes(t *testing.T) {
	t.Run("loops", func(t *testing.T) { peertest.Modes(t) })
	t.Run("locked", func(t *testing.T) { peertest.Modes(t, "-loops", "1", "-lockthread") })
}
