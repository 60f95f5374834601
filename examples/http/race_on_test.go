//go:build race

package main

// raceEnabled: the race detector is on. Its sync.Pool drops a quarter of what is
// Put, so the transport's pooled buffers are sometimes allocated afresh and the
// allocation tests only log their counts.
const raceEnabled = true
