//go:build linux || dragonfly || freebsd || netbsd || openbsd

package sys

import "golang.org/x/sys/unix"

// SocketNonblock creates a non-blocking, close-on-exec stream socket in one call.
func SocketNonblock(family int) (int, error) { return socketNonblock(family, unix.SOCK_STREAM) }

// DatagramSocket creates a non-blocking, close-on-exec datagram socket in one call.
func DatagramSocket(family int) (int, error) { return socketNonblock(family, unix.SOCK_DGRAM) }

func socketNonblock(family, typ int) (int, error) {
	return Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}
