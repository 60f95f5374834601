package sys

import "golang.org/x/sys/unix"

// FcntlInt is fcntl(2) with an int argument. DupCloexec and SetCloseOnExec use
// it; tests swap it to fail them.
var FcntlInt = unix.FcntlInt

// DupCloexec duplicates fd as a close-on-exec fd in one call (F_DUPFD_CLOEXEC),
// so a fork on another goroutine meanwhile cannot leak the copy into a child.
// The copy shares fd's open file description: its file status flags
// (O_NONBLOCK) and, for a socket, the socket itself.
func DupCloexec(fd int) (int, error) {
	return FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// SetCloseOnExec sets FD_CLOEXEC on fd. Unlike CloseOnExec it reports failure,
// EBADF above all: it doubles as the check that an inherited fd is open.
func SetCloseOnExec(fd int) error {
	_, err := FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	return err
}
