//go:build linux || dragonfly || freebsd || netbsd || openbsd

package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Write writes to a socket with MSG_NOSIGNAL, so a write to a reset connection
// returns EPIPE instead of raising SIGPIPE. Use WriteFile for fds that are not
// sockets.
var Write = sendNoSignal

// sendNoSignal is send(2) with MSG_NOSIGNAL. x/sys's Sendto does not return the
// byte count, so this is the raw call.
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

// NoSigpipe does nothing here: every socket write already passes MSG_NOSIGNAL.
func NoSigpipe(fd int) error { return nil }
