//go:build !race

package main

// raceEnabled: the race detector is off, so the allocation tests assert zero.
const raceEnabled = false
