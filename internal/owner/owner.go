// Package owner says whether this build checks that loop-goroutine-only methods
// are called on their loop's goroutine. Build with -tags sycamore_checkowner to
// turn the checks on; without the tag Checks is false and the compiler drops
// every check.
package owner
