//go:build dragonfly || freebsd || netbsd || openbsd

package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Write writes to a socket with MSG_NOSIGNAL, so a write to a reset connection
// returns EPIPE instead of raising SIGPIPE.
var Write = sendNoSignal

func sendNoSignal(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)),
		unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// NoSigpipe is a no-op here: every socket write already passes MSG_NOSIGNAL.
func NoSigpipe(fd int) error { return nil }
