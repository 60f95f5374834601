//go:build dragonfly || freebsd

package sys

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// Accept4 is accept(2) with flags.
var Accept4 = unix.Accept4

// AcceptNonblock accepts a connection as a non-blocking, close-on-exec socket in
// one call, and returns the peer's address (zero for unix sockets). buf is
// unused here: x/sys's Accept4 brings its own.
func AcceptNonblock(fd int, _ *AcceptBuf) (int, netip.AddrPort, error) {
	nfd, sa, err := Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	return nfd, sockaddrAddrPort(sa), nil
}
