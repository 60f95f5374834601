package sys

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// SocketNonblock creates a non-blocking, close-on-exec stream socket. darwin has
// no SOCK_NONBLOCK, so the flags are set under syscall.ForkLock.
func SocketNonblock(family int) (int, error) { return socketNonblock(family, unix.SOCK_STREAM) }

// DatagramSocket creates a non-blocking, close-on-exec datagram socket.
func DatagramSocket(family int) (int, error) { return socketNonblock(family, unix.SOCK_DGRAM) }

func socketNonblock(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		Close(fd)
		return -1, err
	}
	return fd, nil
}
