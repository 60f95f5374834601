package main

import (
	"testing"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peertest"
)

func TestMain(m *testing.M) { peertest.Main(m, main) }

// TestEchoes echoes a PING in the clear and, with -tls-cert and -tls-key,
// over TLS.
func TestEchoes(t *testing.T) {
	t.Run("plain", func(t *testing.T) { peertest.Echo(t, peertest.Start(t, "echo")) })
	t.Run("tls", func(t *testing.T) {
		cert := peertest.Cert(t)
		peertest.EchoTLS(t, peertest.Start(t, "echo", peertest.TLSArgs(cert)...), cert)
	})
}
