//go:build race

package main

// raceEnabled is true when the test binary is built with -race. The race
// detector allocates on its own and makes sync.Pool drop buffers at random, so
// the allocation tests are skipped then.
const raceEnabled = true
