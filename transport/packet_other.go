//go:build !linux

package transport

import (
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// packetIO: without recvmmsg and sendmmsg, a PacketConn moves one datagram a
// call (recvmsg and sendto); the kernel's address values allocate.
type packetIO struct {
	name rawAddr
}

func (io *packetIO) init(int) {}

func (io *packetIO) batch() int { return 1 }

func (pc *PacketConn) readBatch() (int, error) {
	buf := pc.readBuffer()[:pc.cfg.MaxPacket]
	n, _, flags, from, err := sys.Recvmsg(pc.fd, buf, nil, unix.MSG_DONTWAIT)
	if err != nil {
		return 0, err
	}
	pc.io.name = rawAddr{sa: from}
	pc.deliver(buf[:min(n, len(buf))], n, flags&unix.MSG_TRUNC != 0, &pc.io.name)
	return 1, nil
}

func (pc *PacketConn) writeBatch() (int, error) {
	q := &pc.queue
	p := &q.pkts[q.head]
	data := q.data[p.off : p.off+p.n]
	var err error
	if p.to.empty() {
		_, err = sys.Write(pc.fd, data)
	} else {
		err = sys.Sendto(pc.fd, data, 0, p.to.sa)
	}
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// rawAddr is a socket address as x/sys gives it.
type rawAddr struct {
	sa unix.Sockaddr
}

func (a *rawAddr) empty() bool {
	if u, ok := a.sa.(*unix.SockaddrUnix); ok {
		return u.Name == ""
	}
	return a.sa == nil
}

func (a *rawAddr) put(ap netip.AddrPort) {
	if ip := ap.Addr(); ip.Is4() {
		a.sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	} else {
		a.sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	}
}

func (a *rawAddr) addrPort() netip.AddrPort {
	switch sa := a.sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}
