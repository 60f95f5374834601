package sys

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Accept4 is accept4(2) writing the peer's address into buf, which the caller
// keeps: no allocation per call.
var Accept4 = func(fd int, buf *AcceptBuf, flags int) (int, error) {
	buf.len = unix.SizeofSockaddrAny
	nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd),
		uintptr(unsafe.Pointer(&buf.raw)), uintptr(unsafe.Pointer(&buf.len)), uintptr(flags), 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(nfd), nil
}

// AcceptNonblock accepts a connection as a non-blocking, close-on-exec socket in
// one call, and returns the peer's address (zero for unix sockets).
func AcceptNonblock(fd int, buf *AcceptBuf) (int, netip.AddrPort, error) {
	nfd, err := Accept4(fd, buf, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	return nfd, buf.addrPort(), nil
}

// addrPort decodes the address accept4 wrote. Ports are in network byte order.
func (buf *AcceptBuf) addrPort() netip.AddrPort {
	switch buf.raw.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&buf.raw))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), networkPort(sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&buf.raw))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), networkPort(sa.Port))
	}
	return netip.AddrPort{}
}

// networkPort reads a port stored in network byte order.
func networkPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
