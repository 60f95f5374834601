//go:build darwin

package sys

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// pipe2 makes a non-blocking, close-on-exec pipe. darwin has no pipe2, so the pipe
// is made under syscall.ForkLock and flagged afterwards.
func pipe2(p []int, flags int) error {
	syscall.ForkLock.RLock()
	err := unix.Pipe(p)
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return err
	}
	if flags&unix.O_NONBLOCK != 0 {
		unix.SetNonblock(p[0], true)
		unix.SetNonblock(p[1], true)
	}
	return nil
}
