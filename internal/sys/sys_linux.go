package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux-only calls: epoll, eventfd, accept4 and a send that never raises SIGPIPE.
var (
	EpollCreate1 = unix.EpollCreate1
	EpollCtl     = unix.EpollCtl
	EpollWait    = unix.EpollWait
	Eventfd      = unix.Eventfd
	Accept4      = unix.Accept4
	// Write writes to a socket with MSG_NOSIGNAL, so a write to a reset connection
	// returns EPIPE instead of raising SIGPIPE. Use WriteFile for non-sockets.
	Write = sendNoSignal
	// WriteFile writes to an fd that is not a socket (an eventfd, a pipe).
	WriteFile = unix.Write
)

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
