package main

import (
	"strings"
	"testing"

	"github.com/sycamore-go/sycamore/examples/internal/clitest"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// Row 19 of RELIABILITY.md at the server: FuzzRESP checks the parser on any
// input; this drives a running server with every seed of its corpus, as one
// write followed by the client's half-close, and wants each one answered (RESP
// replies only) or closed, never a hang, a loop error or a panic (startServer
// fails the test on either).
func TestEverySeedIsAnsweredOrClosed(t *testing.T) {
	names, seeds := testutil.FuzzSeeds(t, "FuzzRESP")
	_, addr := startRedis(t)
	for i, seed := range seeds {
		got := clitest.SendHalfClosed(t, addr, seed, testWait)
		if len(got) > 0 && !strings.ContainsRune("+-:$*", rune(got[0])) {
			t.Errorf("seed %s: the server answered %q, not a RESP reply", names[i], got[:min(len(got), 80)])
		}
	}
}
