package main

import (
	"testing"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peertest"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

func TestMain(m *testing.M) { peertest.Main(m, main) }

// TestModes serves one request (plain and pipelined, through nbhttp) and one
// echo (through a bare engine) on 2 pollers, then on 1 locked one; then one
// request over TLS (nbhttp with -tls-cert and -tls-key).
//
// Not under -race: nbio hands each conn from its accept goroutine to a poller
// through epoll, which the race detector cannot see (nbio marks its own
// functions //go:norace for that), so a race build of the server reports
// races inside nbio and exits 66.
func TestModes(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("nbio's conn handoff through epoll reads as a race to the race detector")
	}
	t.Run("pollers", func(t *testing.T) { peertest.Modes(t) })
	t.Run("locked", func(t *testing.T) { peertest.Modes(t, "-loops", "1", "-lockthread") })
	t.Run("https", func(t *testing.T) {
		cert := peertest.Cert(t)
		peertest.HTTPS(t, peertest.Start(t, "http", append([]string{"-mode", "http"}, peertest.TLSArgs(cert)...)...), cert)
	})
}
