package main

import (
	"testing"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peertest"
)

func TestMain(m *testing.M) { peertest.Main(m, main) }

// TestServes serves one request in the clear (plain and pipelined) and, with
// -tls-cert and -tls-key, over TLS.
func TestServes(t *testing.T) {
	t.Run("http", func(t *testing.T) { peertest.HTTP(t, peertest.Start(t, "http")) })
	t.Run("https", func(t *testing.T) {
		cert := peertest.Cert(t)
		peertest.HTTPS(t, peertest.Start(t, "http", peertest.TLSArgs(cert)...), cert)
	})
}
