//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package sys

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// The BSD accept paths get the peer as a unix.Sockaddr from x/sys; Linux reads
// the raw address (accept_linux.go).

// sockaddrAddrPort converts a kernel address to an AddrPort without
// allocating; IPv4-mapped IPv6 addresses are unmapped, and other families
// (unix sockets) give the zero value.
func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}
