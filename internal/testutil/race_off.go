//go:build !race

package testutil

// RaceEnabled is true when the binary is built with -race; see race_on.go.
const RaceEnabled = false
