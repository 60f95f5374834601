package sys

import "golang.org/x/sys/unix"

// Linux-only calls: epoll and eventfd (accept4 is in accept_linux.go).
var (
	EpollCreate1 = unix.EpollCreate1
	EpollCtl     = unix.EpollCtl
	EpollWait    = unix.EpollWait
	Eventfd      = unix.Eventfd
	// WriteFile writes to an fd that is not a socket (an eventfd, a pipe).
	WriteFile = unix.Write
)

// SchedSetaffinity pins a thread (0: the calling one) to a set of CPUs.
var SchedSetaffinity = unix.SchedSetaffinity
