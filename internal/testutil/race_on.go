//go:build race

package testutil

// RaceEnabled is true when the binary is built with -race. The race detector
// allocates on its own and makes sync.Pool drop a quarter of what is Put, so
// pooled buffers are sometimes allocated afresh: allocation tests log their
// counts then instead of asserting zero.
const RaceEnabled = true
