package main

import (
	"testing"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peertest"
)

// TestMain runs the binary as the server when a test starts it, and otherwise
// fails the run if a test leaves a goroutine or an fd behind.
func TestMain(m *testing.M) { peertest.Main(m, main) }

// TestModes serves one request and one echo on netpoll's default loops.
func TestModes(t *testing.T) { peertest.Modes(t) }
