//go:build linux

package transport_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// packetEcho answers every datagram with itself and records errors.
type packetEcho struct {
	errs      chan error
	truncated atomic.Int64
	onPacket  func(pc *transport.PacketConn, pkt *transport.Packet)
}

func newPacketEcho() *packetEcho { return &packetEcho{errs: make(chan error, 64)} }

func (h *packetEcho) OnPacket(pc *transport.PacketConn, pkt *transport.Packet) {
	if pkt.Truncated {
		h.truncated.Inc()
	}
	if h.onPacket != nil {
		h.onPacket(pc, pkt)
		return
	}
	if err := pc.Reply(pkt, pkt.Data); err != nil {
		h.errs <- err
	}
}

func (h *packetEcho) OnPacketError(_ *transport.PacketConn, err error) {
	select {
	case h.errs <- err:
	default:
	}
}

// servePacket opens a datagram socket on network/address with cfg and serves it
// on l with h; it is closed when the test ends.
func servePacket(t testing.TB, l *loop.Loop, network, address string, h transport.PacketHandler, cfg transport.PacketConfig) *transport.PacketConn {
	t.Helper()
	pc, err := transport.ListenPacket(network, address, cfg)
	if err != nil {
		t.Fatalf("ListenPacket(%s, %s): %v", network, address, err)
	}
	t.Cleanup(func() { pc.Close() })
	var serveErr error
	onLoop(t, l, func() { serveErr = pc.Serve(l, h) })
	if serveErr != nil {
		t.Fatalf("Serve: %v", serveErr)
	}
	return pc
}

// RELIABILITY and the test: 100,000 datagrams from 8 client sockets to
// one address served by two loops (a SO_REUSEPORT socket each); every one is
// answered, and the kernel spread the clients over both loops.
func TestUDPEchoOfAHundredThousandDatagramsOverTwoLoops(t *testing.T) {
	const clients, each, window = 8, 12500, 32
	h := newPacketEcho()
	loops := []*loop.Loop{startLoop(t, logLoopErrors(t)), startLoop(t, logLoopErrors(t))}
	cfg := transport.PacketConfig{ReusePort: true}
	first := servePacket(t, loops[0], "udp4", "127.0.0.1:0", h, cfg)
	second := servePacket(t, loops[1], "udp4", first.LocalAddr().String(), h, cfg)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- echoClient(first.LocalAddr().String(), uint32(c), each, window)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// The counters move once sendmmsg returns, maybe after the client read.
	testutil.Eventually(t, waitFor, func() bool {
		return first.Stats().PacketsOut+second.Stats().PacketsOut >= first.Stats().PacketsIn+second.Stats().PacketsIn
	}, "every datagram read to be counted as answered")
	a, b := first.Stats(), second.Stats()
	if got := a.PacketsIn + b.PacketsIn; got < clients*each {
		t.Errorf("the loops read %d datagrams, want at least %d (%d + %d)", got, clients*each, a.PacketsIn, b.PacketsIn)
	}
	if a.PacketsOut+b.PacketsOut != a.PacketsIn+b.PacketsIn || a.Dropped+b.Dropped != 0 {
		t.Errorf("stats %+v and %+v: every datagram read should be answered, none dropped", a, b)
	}
	if a.PacketsIn == 0 || b.PacketsIn == 0 {
		t.Logf("the kernel gave all %d clients to one loop (%d / %d)", clients, a.PacketsIn, b.PacketsIn)
	}
	select {
	case err := <-h.errs:
		t.Errorf("handler error: %v", err)
	default:
	}
}

// echoClient sends n numbered datagrams with at most window unanswered, and
// wants each one back. A datagram lost on loopback is sent again after 200 ms,
// at most 5 times: the test is about the server answering every one it reads.
func echoClient(addr string, id uint32, n, window int) error {
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	pending := map[uint32]int{} // sequence -> sends
	msg, reply := make([]byte, 64), make([]byte, 128)
	send := func(seq uint32) error {
		binary.BigEndian.PutUint32(msg, id)
		binary.BigEndian.PutUint32(msg[4:], seq)
		pending[seq]++
		_, err := conn.Write(msg)
		return err
	}
	next := uint32(0)
	for int(next) < n || len(pending) > 0 {
		for int(next) < n && len(pending) < window {
			if err := send(next); err != nil {
				return err
			}
			next++
		}
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		got, err := conn.Read(reply)
		if err != nil {
			if !isTimeout(err) {
				return err
			}
			for seq, sends := range pending {
				if sends >= 5 {
					return errors.New("a datagram was not answered after 5 sends")
				}
				if err := send(seq); err != nil {
					return err
				}
			}
			continue
		}
		if got != len(msg) || binary.BigEndian.Uint32(reply) != id {
			return errors.New("an answer that is not this client's echo")
		}
		delete(pending, binary.BigEndian.Uint32(reply[4:]))
	}
	return nil
}

// Reading and answering a datagram allocates nothing on the loop: the batch
// headers are made once, datagrams are read into the loop's buffer, and a
// reply is copied into a queue that keeps its room.
func TestUDPEchoAllocatesNothingPerDatagram(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	l := startLoop(t, logLoopErrors(t))
	pc := servePacket(t, l, "udp4", "127.0.0.1:0", newPacketEcho(), transport.PacketConfig{})
	conn, err := net.Dial("udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg, reply := make([]byte, 64), make([]byte, 64)
	roundTrip := func() {
		conn.SetDeadline(time.Now().Add(waitFor))
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Read(reply); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		roundTrip() // the queue and the runtime's poller grow to their size
	}
	if allocs := testing.AllocsPerRun(2000, roundTrip); allocs > 0.01 {
		t.Errorf("%.3f allocations per datagram and answer (client included), want 0", allocs)
	}
}

// A datagram larger than MaxPacket is delivered cut and flagged, not silently.
func TestOversizedDatagramIsReportedTruncated(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	got := make(chan transport.Packet, 1)
	h := newPacketEcho()
	h.onPacket = func(_ *transport.PacketConn, pkt *transport.Packet) {
		got <- transport.Packet{Data: append([]byte(nil), pkt.Data...), Truncated: pkt.Truncated, From: pkt.From}
	}
	pc := servePacket(t, l, "udp4", "127.0.0.1:0", h, transport.PacketConfig{MaxPacket: 512})
	conn, err := net.Dial("udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(make([]byte, 3000))
	pkt := testutil.Recv(t, got, waitFor, "the datagram")
	if !pkt.Truncated || len(pkt.Data) != 512 {
		t.Errorf("a 3000-byte datagram with MaxPacket 512: %d bytes, Truncated %v; want 512 and true", len(pkt.Data), pkt.Truncated)
	}
	if want := conn.LocalAddr().(*net.UDPAddr).AddrPort(); pkt.From != want {
		t.Errorf("From = %v, want %v", pkt.From, want)
	}
	if s := pc.Stats(); s.Truncated != 1 {
		t.Errorf("Stats().Truncated = %d, want 1", s.Truncated)
	}
}

// A connected socket learns of its peer's closed port: the ICMP error reaches
// OnPacketError as ECONNREFUSED, and the socket stays open.
func TestConnectedUDPReportsARefusal(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	closed, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.LocalAddr().String()
	closed.Close() // nobody listens there now
	pc, err := transport.DialPacket("udp4", addr, transport.PacketConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	h := newPacketEcho()
	onLoop(t, l, func() {
		if err := pc.Serve(l, h); err != nil {
			t.Error(err)
		}
		pc.Write([]byte("anyone?"))
	})
	if err := testutil.Recv(t, h.errs, waitFor, "the refusal"); !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("OnPacketError(%v), want ECONNREFUSED", err)
	}
	var writeErr error
	onLoop(t, l, func() { writeErr = pc.Write([]byte("still open")) })
	if writeErr != nil {
		t.Errorf("Write after the refusal = %v, want the socket still open", writeErr)
	}
}

// Reply answers a unixgram sender at its path.
func TestUnixgramReplyReachesTheSender(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	dir := t.TempDir()
	pc := servePacket(t, l, "unixgram", filepath.Join(dir, "server.sock"), newPacketEcho(), transport.PacketConfig{})
	client, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "client.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(waitFor))
	if _, err := client.WriteTo([]byte("ping"), &net.UnixAddr{Name: filepath.Join(dir, "server.sock"), Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _, err := client.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Errorf("the echo: %q, %v", buf[:n], err)
	}
	_ = pc
}

// WriteTo beyond MaxQueued datagrams in one round drops and says so.
func TestPacketQueueFullDropsAndCounts(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	pc := servePacket(t, l, "udp4", "127.0.0.1:0", newPacketEcho(), transport.PacketConfig{MaxQueued: 4})
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	var errs []error
	onLoop(t, l, func() {
		for range 5 {
			errs = append(errs, pc.WriteTo([]byte("x"), to))
		}
	})
	if errs[3] != nil || errs[4] != transport.ErrPacketQueueFull {
		t.Errorf("WriteTo errors %v, want the fifth ErrPacketQueueFull", errs)
	}
	testutil.Eventually(t, waitFor, func() bool { return pc.Stats().PacketsOut == 4 }, "four datagrams sent")
	if d := pc.Stats().Dropped; d != 1 {
		t.Errorf("Dropped = %d, want 1", d)
	}
}

// The send seam: sendmmsg taking part of a batch, then EAGAIN, then EINTR, then
// all: every datagram is sent once, in order, after the socket is writable.
func TestSendmmsgPartialEAGAINAndEINTRLoseNothing(t *testing.T) {
	var calls atomic.Int64
	real := sys.Sendmmsg
	t.Cleanup(sys.Swap(&sys.Sendmmsg, func(fd int, msgs []sys.Mmsghdr) (int, error) {
		switch calls.Inc() {
		case 1:
			return real(fd, msgs[:3]) // a partial batch
		case 2:
			return 0, unix.EAGAIN // the socket is full: wait for Writable
		case 3:
			return 0, unix.EINTR // a signal: try again
		}
		return real(fd, msgs)
	}))
	l := startLoop(t, logLoopErrors(t))
	pc := servePacket(t, l, "udp4", "127.0.0.1:0", newPacketEcho(), transport.PacketConfig{})
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	onLoop(t, l, func() {
		for i := range 10 {
			pc.WriteTo([]byte{byte(i)}, to)
		}
	})
	peer.SetReadDeadline(time.Now().Add(waitFor))
	buf := make([]byte, 8)
	for i := range 10 {
		n, err := peer.Read(buf)
		if err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("datagram %d: %v %v, %v", i, n, buf[:n], err)
		}
	}
	if calls.Load() < 4 {
		t.Errorf("sendmmsg called %d times, want the partial, EAGAIN, EINTR and the rest", calls.Load())
	}
}

// The receive seam: EINTR is retried, and EAGAIN ends a read without a report.
func TestRecvmmsgEINTRIsRetried(t *testing.T) {
	var calls atomic.Int64
	real := sys.Recvmmsg
	t.Cleanup(sys.Swap(&sys.Recvmmsg, func(fd int, msgs []sys.Mmsghdr) (int, error) {
		if calls.Inc() == 1 {
			return 0, unix.EINTR
		}
		return real(fd, msgs)
	}))
	l := startLoop(t, logLoopErrors(t))
	h := newPacketEcho()
	pc := servePacket(t, l, "udp4", "127.0.0.1:0", h, transport.PacketConfig{})
	conn, err := net.Dial("udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitFor))
	conn.Write([]byte("hello"))
	buf := make([]byte, 8)
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("echo: %q, %v", buf[:n], err)
	}
	select {
	case err := <-h.errs:
		t.Errorf("OnPacketError(%v): EINTR and EAGAIN are not errors", err)
	default:
	}
}

func TestPacketConfigValidate(t *testing.T) {
	for _, cfg := range []transport.PacketConfig{{MaxPacket: -1}, {MaxPacket: 70000}, {Batch: -1}, {Batch: 5000}, {MaxQueued: -1}} {
		if cfg.Validate() == nil {
			t.Errorf("%+v: Validate() = nil, want an error", cfg)
		}
		if _, err := transport.ListenPacket("udp4", "127.0.0.1:0", cfg); err == nil {
			t.Errorf("%+v: ListenPacket accepted it", cfg)
		}
	}
	if _, err := transport.ListenPacket("tcp", "127.0.0.1:0", transport.PacketConfig{}); !errors.Is(err, transport.ErrPacketNetwork) {
		t.Errorf("ListenPacket(tcp) = %v, want ErrPacketNetwork", err)
	}
	_ = netip.AddrPort{}
}

// A datagram flood on one of a loop's sockets does not starve the loop's other
// fds: a read takes at most a few batches per event, so a TCP client pinging
// the same loop is answered throughout, and the flooded socket answers a second
// source's datagrams too. Malformed or empty datagrams are just datagrams here:
// a zero-length one is delivered and echoed.
func TestUDPFloodDoesNotStarveTheLoop(t *testing.T) {
	const pings = 50
	l := startLoop(t, logLoopErrors(t))
	pc := servePacket(t, l, "udp4", "127.0.0.1:0", newPacketEcho(), transport.PacketConfig{})
	ln := serve(t, l, "tcp", "127.0.0.1:0", echoHandler{}, transport.Config{NoDelay: true})
	stop, done := make(chan struct{}), make(chan struct{})
	var sent atomic.Int64
	go func() { // one source sends as fast as it can, and never reads
		defer close(done)
		conn, err := net.Dial("udp4", pc.LocalAddr().String())
		if err != nil {
			return
		}
		defer conn.Close()
		msg := make([]byte, 512)
		for {
			select {
			case <-stop:
				return
			default:
			}
			conn.Write(msg)
			sent.Inc()
		}
	}()
	testutil.Eventually(t, waitFor, func() bool { return pc.Stats().PacketsIn > 20000 }, "the flood to be under way")
	tcp := dial(t, ln.Addr().String(), 0)
	var slowest time.Duration
	msg, reply := []byte("ping"), make([]byte, 4)
	for range pings {
		start := time.Now()
		if _, err := tcp.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(tcp, reply); err != nil {
			t.Fatalf("a TCP ping during the flood: %v", err)
		}
		slowest = max(slowest, time.Since(start))
	}
	// A second source's datagrams are read among the flood's (the kernel may
	// drop some of either when the socket's buffer is full: ask again).
	other, err := net.Dial("udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	answered := false
	for try := 0; try < 50 && !answered; try++ {
		other.Write(nil) // an empty datagram
		other.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := other.Read(reply)
		answered = err == nil && n == 0
	}
	during := pc.Stats().PacketsIn
	close(stop)
	<-done
	if !answered {
		t.Error("a second source's empty datagram was never answered during the flood")
	}
	t.Logf("%d TCP pings during a flood (%d datagrams sent, %d read by the end of the pings): slowest %v", pings, sent.Load(), during, slowest)
}

// WriteTo on a socket no loop serves yet is an error, not a crash.
func TestWriteToBeforeServeIsAnError(t *testing.T) {
	pc, err := transport.ListenPacket("udp4", "127.0.0.1:0", transport.PacketConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.WriteTo([]byte("x"), netip.MustParseAddrPort("127.0.0.1:9")); err == nil {
		t.Error("WriteTo before Serve succeeded")
	}
}

// A handler that closes its socket in OnPacket gets no more datagrams, also
// those already read in the same batch.
func TestClosingInOnPacketStopsDelivery(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	var delivered atomic.Int64
	h := newPacketEcho()
	h.onPacket = func(pc *transport.PacketConn, _ *transport.Packet) {
		delivered.Inc()
		pc.Close()
	}
	pc := servePacket(t, l, "udp4", "127.0.0.1:0", h, transport.PacketConfig{})
	conn, err := net.Dial("udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hold := make(chan struct{})
	onLoopAsync(l, func() { <-hold }) // let several datagrams wait, to be read in one batch
	for range 10 {
		conn.Write([]byte("x"))
	}
	close(hold)
	testutil.Eventually(t, waitFor, func() bool { return delivered.Load() > 0 }, "the first datagram")
	onLoop(t, l, func() {}) // the round that closed it is over
	if n := delivered.Load(); n != 1 {
		t.Errorf("%d datagrams delivered to a handler that closed its socket at the first", n)
	}
}
