package sys

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// AcceptBuf is where an accept writes the peer's address. A listener keeps one,
// so that accepting allocates nothing where the raw accept4 is used (x/sys's
// Accept4 allocates an address buffer and the Sockaddr it returns on every
// call: about 200 bytes of garbage per connection).
type AcceptBuf struct {
	raw unix.RawSockaddrAny
	len uint32
}

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
