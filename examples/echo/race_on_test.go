//go:build race

package main

// raceEnabled is true when the tests run under the race detector, which makes
// sync.Pool drop some of what is put back, so pooled buffers are sometimes
// allocated afresh and allocation counts are not exact.
const raceEnabled = true
