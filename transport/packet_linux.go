package transport

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// packetIO holds the headers of a PacketConn's recvmmsg and sendmmsg batches,
// made once when it is served, so that no datagram allocates.
type packetIO struct {
	rx, tx       []sys.Mmsghdr
	rxIov, txIov []unix.Iovec
	names        []rawAddr
	slots        int // datagrams the last read had room for
}

func (io *packetIO) init(batch int) {
	io.rx, io.tx = make([]sys.Mmsghdr, batch), make([]sys.Mmsghdr, batch)
	io.rxIov, io.txIov = make([]unix.Iovec, batch), make([]unix.Iovec, batch)
	io.names = make([]rawAddr, batch)
}

// batch is how many datagrams a read could have returned.
func (io *packetIO) batch() int { return io.slots }

// readBatch reads one batch with recvmmsg into the read buffer, cut into slots
// of MaxPacket bytes, and hands each datagram on. It returns how many it read.
func (pc *PacketConn) readBatch() (int, error) {
	buf, size := pc.readBuffer(), pc.cfg.MaxPacket
	k := min(len(pc.io.rx), len(buf)/size)
	pc.io.slots = k
	for i := range k {
		iov := &pc.io.rxIov[i]
		iov.Base = &buf[i*size]
		iov.SetLen(size)
		h := &pc.io.rx[i]
		h.Hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&pc.io.names[i].sa)), Namelen: unix.SizeofSockaddrAny, Iov: iov}
		h.Hdr.SetIovlen(1)
		h.Len = 0
	}
	n, err := sys.Retry(func() (int, error) { return sys.Recvmmsg(pc.fd, pc.io.rx[:k]) })
	if err != nil {
		return 0, err
	}
	for i := range n {
		if pc.released {
			break // the handler closed the socket
		}
		h, name := &pc.io.rx[i], &pc.io.names[i]
		name.len = h.Hdr.Namelen
		got := int(h.Len)
		pc.deliver(buf[i*size:i*size+min(got, size)], got, h.Hdr.Flags&unix.MSG_TRUNC != 0, name)
	}
	return n, nil
}

// writeBatch sends the head of the queue, up to a batch, with one sendmmsg,
// and returns how many datagrams the kernel took.
func (pc *PacketConn) writeBatch() (int, error) {
	q := &pc.queue
	k := min(len(q.pkts)-q.head, len(pc.io.tx))
	for i := range k {
		p := &q.pkts[q.head+i]
		iov := &pc.io.txIov[i]
		iov.Base = nil
		if p.n > 0 {
			iov.Base = &q.data[p.off]
		}
		iov.SetLen(p.n)
		h := &pc.io.tx[i]
		h.Hdr = unix.Msghdr{Iov: iov}
		h.Hdr.SetIovlen(1)
		if !p.to.empty() {
			h.Hdr.Name, h.Hdr.Namelen = (*byte)(unsafe.Pointer(&p.to.sa)), p.to.len
		}
	}
	return sys.Retry(func() (int, error) { return sys.Sendmmsg(pc.fd, pc.io.tx[:k]) })
}

// rawAddr is a socket address as the kernel reads and writes it.
type rawAddr struct {
	sa  unix.RawSockaddrAny
	len uint32
}

// empty reports an address there is nothing to send to: none, or an unbound
// unixgram sender's (its family alone).
func (a *rawAddr) empty() bool {
	return a.len == 0 || a.sa.Addr.Family == unix.AF_UNIX && a.len <= 2
}

// put stores an IP address and port.
func (a *rawAddr) put(ap netip.AddrPort) {
	ip := ap.Addr()
	if ip.Is4() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&a.sa))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
		putPort(&sa.Port, ap.Port())
		a.len = unix.SizeofSockaddrInet4
		return
	}
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&a.sa))
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ip.As16()}
	putPort(&sa.Port, ap.Port())
	a.len = unix.SizeofSockaddrInet6
}

// addrPort reads an IP address and port; the zero AddrPort for other families.
// IPv4 peers of a dual-stack socket come back as IPv4.
func (a *rawAddr) addrPort() netip.AddrPort {
	switch a.sa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&a.sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), getPort(&sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&a.sa))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), getPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// The port of a sockaddr is in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}
