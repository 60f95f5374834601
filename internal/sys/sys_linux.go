package sys

import "golang.org/x/sys/unix"

// Linux-only calls: epoll, eventfd and accept4.
var (
	EpollCreate1 = unix.EpollCreate1
	EpollCtl     = unix.EpollCtl
	EpollWait    = unix.EpollWait
	Eventfd      = unix.Eventfd
	Accept4      = unix.Accept4
	// WriteFile writes to an fd that is not a socket (an eventfd, a pipe).
	WriteFile = unix.Write
)
