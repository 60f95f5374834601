package transport

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// sockaddr turns a network and address into what socket(2), bind(2) and
// connect(2) take. For listening on "tcp" with no host (or an unspecified one) it
// picks a dual-stack IPv6 socket, as the net package does; dualStack reports that.
// A host name is resolved with the net package's resolver, which may block: give
// IP addresses on the loop goroutine.
func sockaddr(network, address string, listening bool) (sa unix.Sockaddr, family int, dualStack bool, err error) {
	switch network {
	case "unix":
		if address == "" {
			return nil, 0, false, fmt.Errorf("transport: empty unix socket path")
		}
		return &unix.SockaddrUnix{Name: address}, unix.AF_UNIX, false, nil
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, 0, false, fmt.Errorf("%w: %q", ErrNetwork, network)
	}
	a, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return nil, 0, false, fmt.Errorf("transport: %w", err)
	}
	ip := a.IP
	if len(ip) == 0 || ip.IsUnspecified() {
		switch {
		case !listening && network == "tcp6":
			ip = net.IPv6loopback
		case !listening:
			ip = net.IPv4(127, 0, 0, 1)
		case network == "tcp" && ip.To4() == nil:
			return &unix.SockaddrInet6{Port: a.Port}, unix.AF_INET6, true, nil
		}
	}
	if ip4 := ip.To4(); ip4 != nil && network != "tcp6" {
		sa4 := &unix.SockaddrInet4{Port: a.Port}
		copy(sa4.Addr[:], ip4)
		return sa4, unix.AF_INET, false, nil
	}
	if network == "tcp4" {
		return nil, 0, false, fmt.Errorf("transport: %s is not an IPv4 address", address)
	}
	sa6 := &unix.SockaddrInet6{Port: a.Port}
	copy(sa6.Addr[:], ip.To16())
	if a.Zone != "" {
		if ifi, err := net.InterfaceByName(a.Zone); err == nil {
			sa6.ZoneId = uint32(ifi.Index)
		}
	}
	return sa6, unix.AF_INET6, false, nil
}

// sockaddrToAddr converts a kernel address to a net.Addr.
func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), sa.Addr[:]...)), Port: sa.Port}
	case *unix.SockaddrInet6:
		zone := ""
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), sa.Addr[:]...)), Port: sa.Port, Zone: zone}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}
