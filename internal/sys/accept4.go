//go:build linux || dragonfly || freebsd

package sys

import "golang.org/x/sys/unix"

// AcceptNonblock accepts a connection as a non-blocking, close-on-exec socket in one
// call.
func AcceptNonblock(fd int) (int, unix.Sockaddr, error) {
	return Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}
