//go:build linux || dragonfly || freebsd || netbsd || openbsd

package sys

import "golang.org/x/sys/unix"

// SocketNonblock creates a non-blocking, close-on-exec stream socket in one call.
func SocketNonblock(family int) (int, error) {
	return Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}
