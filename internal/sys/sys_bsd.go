//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package sys

import "golang.org/x/sys/unix"

// kqueue calls.
var (
	Kqueue = unix.Kqueue
	Kevent = unix.Kevent
	// WriteFile writes to an fd that is not a socket (a wakeup pipe).
	WriteFile = unix.Write
	Pipe2     = pipe2
)
