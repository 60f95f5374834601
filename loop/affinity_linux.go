package loop

import (
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// pinThread restricts the calling OS thread to one CPU. The caller has locked its
// goroutine to the thread.
func pinThread(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return sys.SchedSetaffinity(0, &set)
}
