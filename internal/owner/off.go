//go:build !sycamore_checkowner

package owner

// Checks is false: loop-only methods do not check their goroutine.
const Checks = false
