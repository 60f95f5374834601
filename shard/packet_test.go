package shard

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// udpEcho answers each datagram with itself.
type udpEcho struct{}

func (udpEcho) OnPacket(pc *transport.PacketConn, pkt *transport.Packet) { pc.Reply(pkt, pkt.Data) }
func (udpEcho) OnPacketError(*transport.PacketConn, error)               {}

// ListenPacket gives every loop a socket on one address; clients from many
// source ports are spread over them by the kernel, every datagram is answered,
// and Stats counts them per loop.
func TestListenPacketServesOnEveryLoop(t *testing.T) {
	const clients, each = 16, 200
	e := newEngine(t, Options{Loops: 2})
	addr, err := e.ListenPacket("udp4", "127.0.0.1:0", udpEcho{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("udp4", addr.String())
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			msg, reply := make([]byte, 8), make([]byte, 8)
			for i := range each {
				binary.BigEndian.PutUint32(msg, uint32(c))
				binary.BigEndian.PutUint32(msg[4:], uint32(i))
				for try := 0; ; try++ { // loopback may drop one; ask again
					conn.Write(msg)
					conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
					if _, err := conn.Read(reply); err == nil && string(reply) == string(msg) {
						break
					} else if try == 10 {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The counters move once sendmmsg returns, maybe after the client read.
	testutil.Eventually(t, 5*time.Second, func() bool {
		st := e.Stats()
		return st.Total.PacketsIn >= clients*each && st.Total.PacketsOut >= clients*each
	}, "Stats to count %d datagrams in and out", clients*each)
	st := e.Stats()
	served := 0
	for _, ls := range st.Loops {
		if ls.PacketsIn > 0 {
			served++
		}
	}
	if served < 2 {
		t.Logf("the kernel gave all %d clients to one loop: %+v", clients, st.Loops)
	}
	if err := shutdownWithin(e, 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// The sockets are closed: the address can be bound again.
	again, err := net.ListenPacket("udp4", addr.String())
	if err != nil {
		t.Fatalf("after Shutdown the address is still bound: %v", err)
	}
	again.Close()
}

func TestListenPacketRefusesBadInput(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	if _, err := e.ListenPacket("udp4", "127.0.0.1:0", nil); err == nil {
		t.Error("ListenPacket with a nil handler succeeded")
	}
	if _, err := e.ListenPacket("tcp", "127.0.0.1:0", udpEcho{}); err == nil {
		t.Error("ListenPacket(tcp) succeeded")
	}
	if _, err := New(Options{Packet: transport.PacketConfig{MaxPacket: -1}}); err == nil {
		t.Error("New with PacketConfig.MaxPacket -1 succeeded")
	}
}

// A second engine (a restarted copy) binds the same datagram address beside
// the first, and serves it alone once the first shuts down.
func TestSecondEngineBindsTheDatagramAddressBesideTheFirst(t *testing.T) {
	old := newEngine(t, Options{Loops: 1})
	addr, err := old.ListenPacket("udp4", "127.0.0.1:0", udpEcho{})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	next := newEngine(t, Options{Loops: 1})
	if _, err := next.ListenPacket("udp4", addr.String(), udpEcho{}); err != nil {
		t.Fatalf("the second engine cannot bind beside the first: %v", err)
	}
	if err := next.Start(); err != nil {
		t.Fatal(err)
	}
	if err := shutdownWithin(old, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp4", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reply := make([]byte, 4)
	for try := 0; ; try++ {
		conn.Write([]byte("ping"))
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := conn.Read(reply); err == nil && string(reply[:n]) == "ping" {
			break
		} else if try == 10 {
			t.Fatalf("the second engine does not answer: %v", err)
		}
	}
	if next.Stats().Total.PacketsIn == 0 {
		t.Error("the answer did not come from the second engine")
	}
}
