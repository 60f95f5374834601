//go:build sycamore_checkowner

package owner

// Checks is true: loop-only methods panic when called off their loop's goroutine.
const Checks = true
