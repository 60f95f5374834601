package harness

import (
	"context"
	"net"
	"strconv"
	"testing"
)

func TestTableHasPortReadsTheHexPortAfterTheLastColon(t *testing.T) {
	table := []byte(`   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  412: 0100007F:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81234 2 0000000000000000 0
  519: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81235 2 0000000000000000 0
`)
	for port, want := range map[int]bool{0x14E9: true, 53: true, 0x0100: false, 0x7F: false} {
		if got := tableHasPort(table, port); got != want {
			t.Errorf("tableHasPort(%d) = %v, want %v", port, got, want)
		}
	}
	if tableHasPort([]byte("   sl  local_address\n"), 0) {
		t.Error("a table of only a header has no socket")
	}
}

// A UDP server accepts no TCP conn: Start must take a bound UDP port as
// listening, and pick a port free for UDP.
func TestStartOfUDPServerWaitsForItsBoundPort(t *testing.T) {
	s := helper("udp")
	s.Network = "udp"
	p := StartTest(t, s)
	_, port, _ := net.SplitHostPort(p.Addr)
	n, _ := strconv.Atoi(port)
	if !udpBound(n) {
		t.Fatalf("%s is not bound after Start", p.Addr)
	}
	if pc, err := net.ListenPacket("udp", p.Addr); err == nil {
		pc.Close()
		t.Fatalf("%s could be bound again: the helper did not bind it", p.Addr)
	}
	var d net.Dialer
	if c, err := d.DialContext(context.Background(), "tcp", p.Addr); err == nil {
		c.Close()
		t.Fatalf("%s accepted a TCP conn: Start could not have told UDP from TCP", p.Addr)
	}
}
