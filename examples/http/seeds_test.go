package main

import (
	"bytes"
	"testing"

	"github.com/sycamore-go/sycamore/examples/internal/clitest"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// Row 19 of RELIABILITY.md at the server: FuzzParse checks the parser on any
// input; this drives a running server with every seed of its corpus and every
// parse case, as one write followed by the client's half-close, and wants each
// one answered (responses only) or closed, never a hang, a loop error or a
// panic (startServer fails the test on either).
func TestEverySeedIsAnsweredOrClosed(t *testing.T) {
	names, seeds := testutil.FuzzSeeds(t, "FuzzParse")
	for _, tc := range parseCases {
		names = append(names, tc.name)
		seeds = append(seeds, []byte(tc.input+tc.rest))
	}
	ts := startServer(t, 1)
	for i, seed := range seeds {
		got := clitest.SendHalfClosed(t, ts.addrs[0], seed, waitLimit)
		if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 ")) {
			t.Errorf("seed %s: the server answered %q, not an HTTP response", names[i], got[:min(len(got), 80)])
		}
	}
}
