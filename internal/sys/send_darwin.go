package sys

import "golang.org/x/sys/unix"

// Write writes to a socket. On darwin SIGPIPE is suppressed per socket with
// SO_NOSIGPIPE (see NoSigpipe), which every socket sycamore adopts has set.
var Write = unix.Write

// NoSigpipe sets SO_NOSIGPIPE so writes to a reset socket return EPIPE instead of
// raising SIGPIPE.
func NoSigpipe(fd int) error {
	return SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
}
