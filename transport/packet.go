package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/owner"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
)

// PacketHandler receives a PacketConn's datagrams. Its methods run on the
// loop goroutine.
type PacketHandler interface {
	// OnPacket is called once for each datagram, in the order they were read.
	// pkt and pkt.Data are valid only until it returns: Data is a window on the
	// loop's read buffer, which the next read reuses. Reply and WriteTo copy.
	OnPacket(pc *PacketConn, pkt *Packet)
	// OnPacketError reports an error that leaves the socket open: an ICMP error
	// for a connected socket (wrapping ECONNREFUSED when the peer's port is
	// closed), or a datagram the kernel refused to send (EMSGSIZE, say), which
	// is dropped and counted.
	OnPacketError(pc *PacketConn, err error)
}

// Packet is one received datagram.
type Packet struct {
	// Data is the datagram, or its first PacketConfig.MaxPacket bytes when it
	// was larger (Truncated).
	Data []byte
	// From is the sender of a udp datagram; the zero AddrPort for unixgram.
	From netip.AddrPort
	// Truncated reports that the datagram was larger than MaxPacket and was
	// cut by the kernel: Data is not all of it.
	Truncated bool

	src *rawAddr // the sender as the kernel gave it, for Reply
}

// PacketConfig tunes a PacketConn. The zero value works.
type PacketConfig struct {
	// MaxPacket is the largest datagram read whole; a larger one is delivered
	// cut, with Packet.Truncated set. 0 means 2048. At most 65535.
	MaxPacket int
	// Batch is how many datagrams one recvmmsg or sendmmsg moves (Linux; other
	// systems move one a call). 0 means 32.
	Batch int
	// MaxQueued bounds the datagrams waiting to be sent; beyond it WriteTo and
	// Reply drop the datagram and return ErrPacketQueueFull. 0 means 4096.
	MaxQueued int
	// ReusePort sets SO_REUSEPORT before binding, so that several sockets (one
	// per loop) share the address and the kernel spreads flows over them.
	ReusePort bool
	// ReadBuffer and WriteBuffer, when positive, set SO_RCVBUF and SO_SNDBUF.
	ReadBuffer, WriteBuffer int
}

const (
	defaultMaxPacket = 2048
	defaultBatch     = 32
	defaultMaxQueued = 4096
	maxDatagram      = 65535
)

// Validate reports values out of range. ListenPacket, DialPacket and the shard
// engine refuse such a PacketConfig.
func (cfg PacketConfig) Validate() error {
	_, err := cfg.normalized()
	return err
}

// normalized returns cfg with its defaults filled in, or an error for values
// out of range.
func (cfg PacketConfig) normalized() (PacketConfig, error) {
	switch {
	case cfg.MaxPacket < 0 || cfg.MaxPacket > maxDatagram:
		return cfg, fmt.Errorf("transport: PacketConfig.MaxPacket %d: want 0 (2048) to %d", cfg.MaxPacket, maxDatagram)
	case cfg.Batch < 0 || cfg.Batch > 1024:
		return cfg, fmt.Errorf("transport: PacketConfig.Batch %d: want 0 (32) to 1024", cfg.Batch)
	case cfg.MaxQueued < 0:
		return cfg, fmt.Errorf("transport: PacketConfig.MaxQueued %d: want 0 (4096) or more", cfg.MaxQueued)
	}
	if cfg.MaxPacket == 0 {
		cfg.MaxPacket = defaultMaxPacket
	}
	if cfg.Batch == 0 {
		cfg.Batch = defaultBatch
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = defaultMaxQueued
	}
	return cfg, nil
}

var (
	// ErrPacketQueueFull: WriteTo or Reply found PacketConfig.MaxQueued datagrams
	// waiting to be sent; the datagram was dropped.
	ErrPacketQueueFull = errors.New("transport: packet queue full")
	// ErrPacketNetwork: a network other than udp, udp4, udp6 and unixgram.
	ErrPacketNetwork = errors.New("transport: unsupported packet network (want udp, udp4, udp6 or unixgram)")
	// ErrNoAddress: WriteTo without an address on a socket that is not connected.
	ErrNoAddress = errors.New("transport: WriteTo: no address and the socket is not connected")

	errNotServed = errors.New("transport: packet socket not served: call Serve first")
)

// PacketStats counts a PacketConn's traffic. Dropped counts datagrams that were
// not sent: refused by the kernel, or by a full queue.
type PacketStats struct {
	PacketsIn, BytesIn, PacketsOut, BytesOut, Dropped, Truncated uint64
}

// PacketConn is a datagram socket (udp, udp4, udp6 or unixgram) served by one
// loop. It reads datagrams in batches into the loop's read buffer and hands
// each to its PacketHandler; what the handler sends with WriteTo or Reply is
// queued and written in batches when the loop's round ends. Make one with
// ListenPacket or DialPacket, then Serve it.
type PacketConn struct {
	reg       loop.Registration
	h         PacketHandler
	fd        int
	cfg       PacketConfig
	laddr     net.Addr
	connected bool   // DialPacket: the socket has a peer
	unixPath  string // the unixgram path ListenPacket bound, removed on Close

	loopCloser // closed and the serving loop l, guarded by mu
	released   bool

	pkt   Packet
	io    packetIO // the batch buffers (packet_linux.go, packet_other.go)
	own   []byte   // a read buffer of its own, when the loop's is too small for one datagram
	queue packetQueue

	in, inBytes, out, outBytes, dropped, truncated atomic.Uint64
}

// packetQueue holds the datagrams waiting to be sent: their bytes back to back
// in data, and where each one goes.
type packetQueue struct {
	data []byte
	pkts []queued
	head int // pkts[head:] are still to be sent
}

type queued struct {
	off, n int
	to     rawAddr // empty: the connected peer
}

// ListenPacket opens a datagram socket bound to address: "udp", "udp4" or
// "udp6" with host:port (an empty or unspecified host listens on every
// address; "udp" with no host is dual-stack), or "unixgram" with a path. Serve
// it on a loop to receive. Safe from any goroutine.
func ListenPacket(network, address string, cfg PacketConfig) (*PacketConn, error) {
	return openPacket(network, address, cfg, true)
}

// DialPacket opens a datagram socket connected to address: it sends to that
// peer only, receives only from it, and learns of ICMP errors (a closed port
// on the peer arrives as OnPacketError wrapping ECONNREFUSED). Serve it on a
// loop to receive. Safe from any goroutine.
func DialPacket(network, address string, cfg PacketConfig) (*PacketConn, error) {
	return openPacket(network, address, cfg, false)
}

func openPacket(network, address string, cfg PacketConfig, listening bool) (*PacketConn, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	stream, ok := map[string]string{"udp": "tcp", "udp4": "tcp4", "udp6": "tcp6", "unixgram": "unix"}[network]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrPacketNetwork, network)
	}
	sa, family, dualStack, err := sockaddr(stream, address, listening)
	if err != nil {
		return nil, err
	}
	fd, err := sys.DatagramSocket(family)
	if err != nil {
		return nil, fmt.Errorf("transport: socket: %w", err)
	}
	pc := &PacketConn{fd: fd, cfg: cfg, connected: !listening}
	if err := pc.setup(sa, family, dualStack, address, listening); err != nil {
		sys.Close(fd)
		return nil, err
	}
	return pc, nil
}

func (pc *PacketConn) setup(sa unix.Sockaddr, family int, dualStack bool, address string, listening bool) error {
	if listening {
		lc := ListenConfig{ReusePort: pc.cfg.ReusePort}
		if err := prepareListener(pc.fd, family, dualStack, lc); err != nil {
			return err
		}
	}
	for _, o := range []struct {
		name  string
		opt   int
		value int
	}{{"SO_RCVBUF", unix.SO_RCVBUF, pc.cfg.ReadBuffer}, {"SO_SNDBUF", unix.SO_SNDBUF, pc.cfg.WriteBuffer}} {
		if o.value > 0 {
			if err := sys.SetsockoptInt(pc.fd, unix.SOL_SOCKET, o.opt, o.value); err != nil {
				return fmt.Errorf("transport: %s: %w", o.name, err)
			}
		}
	}
	if listening {
		if err := sys.Bind(pc.fd, sa); err != nil {
			return fmt.Errorf("transport: bind %s: %w", address, err)
		}
		if family == unix.AF_UNIX && len(address) > 0 && address[0] != '@' {
			pc.unixPath = address
		}
	} else if err := sys.Connect(pc.fd, sa); err != nil {
		return fmt.Errorf("transport: connect %s: %w", address, err)
	}
	if bound, err := sys.Getsockname(pc.fd); err == nil {
		pc.laddr = packetAddr(bound)
	}
	return nil
}

// packetAddr is sockaddrToAddr for a datagram socket.
func packetAddr(sa unix.Sockaddr) net.Addr {
	switch a := sockaddrToAddr(sa).(type) {
	case *net.TCPAddr:
		return &net.UDPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone}
	case *net.UnixAddr:
		return &net.UnixAddr{Name: a.Name, Net: "unixgram"}
	}
	return nil
}

// LocalAddr returns the address the socket is bound to (a *net.UDPAddr or a
// *net.UnixAddr). Safe from any goroutine.
func (pc *PacketConn) LocalAddr() net.Addr { return pc.laddr }

// Fd returns the socket's fd. Safe from any goroutine.
func (pc *PacketConn) Fd() int { return pc.fd }

// Loop returns the loop serving the socket, nil before Serve. Loop goroutine only.
func (pc *PacketConn) Loop() *loop.Loop { return pc.l }

// Stats returns the socket's counters. Safe from any goroutine.
func (pc *PacketConn) Stats() PacketStats {
	return PacketStats{PacketsIn: pc.in.Load(), BytesIn: pc.inBytes.Load(), PacketsOut: pc.out.Load(),
		BytesOut: pc.outBytes.Load(), Dropped: pc.dropped.Load(), Truncated: pc.truncated.Load()}
}

// Serve registers the socket on l: every datagram it receives goes to h.
// Loop goroutine only (or before the loop runs).
func (pc *PacketConn) Serve(l *loop.Loop, h PacketHandler) error {
	if h == nil {
		return errors.New("transport: Serve: nil PacketHandler")
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	switch {
	case pc.closed:
		return ErrClosed
	case pc.l != nil:
		return errors.New("transport: packet socket already served")
	}
	pc.io.init(pc.cfg.Batch)
	if len(l.ReadBuffer()) < pc.cfg.MaxPacket {
		pc.own = make([]byte, pc.cfg.MaxPacket)
	}
	if err := l.Attach(&pc.reg, (*packetTarget)(pc), poller.Readable); err != nil {
		return fmt.Errorf("transport: register packet socket: %w", err)
	}
	pc.l, pc.h = l, h
	return nil
}

// readBuffer is where datagrams are read: the loop's shared buffer, cut into
// slots of MaxPacket bytes, or the socket's own when that is too small.
func (pc *PacketConn) readBuffer() []byte {
	if pc.own != nil {
		return pc.own
	}
	return pc.l.ReadBuffer()
}

// WriteTo queues a copy of p for to (the connected peer when to is the zero
// AddrPort and the socket is connected). The queue is written in batches at the
// end of the round. A full queue drops p and returns ErrPacketQueueFull. Loop
// goroutine only.
func (pc *PacketConn) WriteTo(p []byte, to netip.AddrPort) error {
	pc.checkOwner("transport.PacketConn.WriteTo")
	var dst rawAddr
	if to.IsValid() {
		dst.put(to)
	} else if !pc.connected {
		return ErrNoAddress
	}
	return pc.enqueue(p, &dst)
}

// Write queues p for a connected socket's peer; see WriteTo. Loop goroutine only.
func (pc *PacketConn) Write(p []byte) error { return pc.WriteTo(p, netip.AddrPort{}) }

// Reply queues a copy of p for pkt's sender, whatever its kind of address (a
// unixgram sender's path too). pkt must be the one OnPacket is running with.
// Loop goroutine only.
func (pc *PacketConn) Reply(pkt *Packet, p []byte) error {
	pc.checkOwner("transport.PacketConn.Reply")
	if pkt.src == nil || pkt.src.empty() {
		if pc.connected {
			return pc.enqueue(p, &rawAddr{})
		}
		return ErrNoAddress // an unbound unixgram sender has no address to answer
	}
	return pc.enqueue(p, pkt.src)
}

func (pc *PacketConn) enqueue(p []byte, to *rawAddr) error {
	switch {
	case pc.released:
		return ErrClosed
	case pc.l == nil:
		return errNotServed
	}
	q := &pc.queue
	if len(q.pkts)-q.head >= pc.cfg.MaxQueued {
		pc.dropped.Inc()
		return ErrPacketQueueFull
	}
	if len(q.pkts) == q.head {
		pc.reg.AtRoundEnd() // the first datagram of a round: flush when it ends
	}
	q.pkts = append(q.pkts, queued{off: len(q.data), n: len(p), to: *to})
	q.data = append(q.data, p...)
	return nil
}

// Close closes the socket (a unixgram path ListenPacket bound is removed).
// Datagrams still queued are dropped. Safe from any goroutine: from another
// goroutine while a loop serves the socket, the close is handed to the loop and
// Close waits for it.
func (pc *PacketConn) Close() error { return pc.closeVia(pc.closeNow) }

func (pc *PacketConn) closeNow() {
	if pc.released {
		return
	}
	pc.released = true
	if n := len(pc.queue.pkts) - pc.queue.head; n > 0 {
		pc.dropped.Add(uint64(n))
	}
	pc.queue = packetQueue{}
	if pc.reg.Release() != nil {
		sys.Close(pc.fd)
	}
	if pc.unixPath != "" {
		os.Remove(pc.unixPath)
	}
}

// checkOwner panics, with the sycamore_checkowner build tag, when a loop-only
// method is called off the loop goroutine.
func (pc *PacketConn) checkOwner(method string) {
	if owner.Checks && pc.l != nil {
		pc.l.CheckOwner(method)
	}
}

// packetTarget is the socket as its loop sees it.
type packetTarget PacketConn

func (t *packetTarget) Fd() int { return t.fd }

// HandleEvent reads what is ready, and writes the queue when the socket can
// take more.
func (t *packetTarget) HandleEvent(ev poller.Event) {
	pc := (*PacketConn)(t)
	if ev.Ready&(poller.Readable|poller.Error|poller.Hangup|poller.ReadHangup) != 0 {
		pc.readReady()
	}
	if !pc.released && ev.Ready&poller.Writable != 0 {
		pc.flush()
	}
}

// OnRoundEnd writes what the round queued.
func (t *packetTarget) OnRoundEnd() {
	if pc := (*PacketConn)(t); !pc.released {
		pc.flush()
	}
}

// Finalize closes the socket when its loop closes or a handler panicked.
func (t *packetTarget) Finalize(error) {
	pc := (*PacketConn)(t)
	pc.markClosed()
	pc.closeNow()
}

// readRounds bounds the batches read for one event, so that one busy socket
// leaves the loop's other fds their turn (epoll reports it again if more wait).
const readRounds = 4

// readReady reads up to readRounds batches and hands each datagram on.
func (pc *PacketConn) readReady() {
	for range readRounds {
		if pc.released {
			return // the handler closed the socket
		}
		n, err := pc.readBatch()
		switch {
		case err == unix.EAGAIN:
			return
		case err != nil:
			// An ICMP error queued on the socket (a connected one's peer refused),
			// or a transient failure: report it; the socket stays open.
			pc.h.OnPacketError(pc, fmt.Errorf("transport: recv: %w", err))
			if pc.released {
				return
			}
			continue
		}
		if n < pc.io.batch() {
			return // the socket is drained
		}
	}
}

// deliver hands one read datagram to the handler.
func (pc *PacketConn) deliver(data []byte, size int, truncated bool, src *rawAddr) {
	pc.pkt = Packet{Data: data, Truncated: truncated, src: src}
	if !src.empty() {
		pc.pkt.From = src.addrPort()
	}
	pc.in.Inc()
	pc.inBytes.Add(uint64(size))
	if truncated {
		pc.truncated.Inc()
	}
	pc.h.OnPacket(pc, &pc.pkt)
}

// flush writes the queue in batches until it is empty or the socket is full.
func (pc *PacketConn) flush() {
	q := &pc.queue
	for q.head < len(q.pkts) {
		n, err := pc.writeBatch()
		switch {
		case err == unix.EAGAIN:
			pc.reg.SetInterest(poller.Readable | poller.Writable)
			return
		case err != nil:
			// The first datagram of the batch was refused (EMSGSIZE, an ICMP
			// error of a connected peer): drop it, say so, go on with the rest.
			pc.dropped.Inc()
			q.head++
			pc.h.OnPacketError(pc, fmt.Errorf("transport: send: %w", err))
			if pc.released {
				return
			}
			continue
		}
		for _, p := range q.pkts[q.head : q.head+n] {
			pc.outBytes.Add(uint64(p.n))
		}
		pc.out.Add(uint64(n))
		q.head += n
	}
	q.data, q.pkts, q.head = q.data[:0], q.pkts[:0], 0
	if pc.reg.Interest()&poller.Writable != 0 {
		pc.reg.SetInterest(poller.Readable)
	}
}
