//go:build !linux

package loop

import "errors"

// pinThread fails: this system has no per-thread CPU affinity call that sycamore
// supports (macOS has none at all). Use CPU: NoPin here.
func pinThread(cpu int) error {
	return errors.New("loop: CPU pinning is supported on Linux only")
}
