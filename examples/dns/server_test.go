package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/examples/internal/clitest"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/shard"
)

const serverWait = 10 * time.Second

// startDNS serves zonePath the way main does (TCP, and UDP on the same port),
// on two loops, and returns the address; it stops when the test ends.
func startDNS(t *testing.T, zonePath string) string {
	t.Helper()
	f := clitest.Flags()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *shard.Engine, 1)
	served := make(chan error, 1)
	go func() { served <- cli.ServePacket(ctx, f, setup(f, zonePath), func(e *shard.Engine) { ready <- e }) }()
	select {
	case e := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := testutil.Recv(t, served, serverWait, "the server to stop"); err != nil {
				t.Errorf("ServePacket: %v", err)
			}
		})
		for _, a := range e.Addrs() {
			if a.Network() == "udp" {
				return a.String()
			}
		}
		t.Fatalf("no UDP address among %v", e.Addrs())
	case err := <-served:
		cancel()
		t.Fatalf("the server did not start: %v", err)
	case <-time.After(serverWait):
		cancel()
		t.Fatal("the server did not start in time")
	}
	return ""
}

// exchangeUDP sends msg and returns the answer.
func exchangeUDP(t *testing.T, addr string, msg []byte) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	for try := 0; ; try++ { // loopback may drop a datagram: ask again
		conn.Write(msg)
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := conn.Read(buf)
		if err == nil {
			return buf[:n]
		}
		if try == 5 {
			t.Fatalf("no answer over UDP: %v", err)
		}
	}
}

// exchangeTCP sends msg framed by its length and returns the answer.
func exchangeTCP(t *testing.T, addr string, msg []byte) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, serverWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(serverWait))
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := conn.Write(append(frame, msg...)); err != nil {
		t.Fatal(err)
	}
	var size [2]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatalf("no answer over TCP: %v", err)
	}
	resp := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(conn, resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

// The server answers the same query alike over UDP and over TCP on one port,
// as the zone says.
func TestServerAnswersOverUDPAndTCPOnOnePort(t *testing.T) {
	z := exampleZone(t)
	addr := startDNS(t, filepath.Join("testdata", "example.zone"))
	q := testQuery{id: 7, name: "www.example.com.", qtype: typeA}.bytes()
	want := z.respond(q, nil)
	if got := exchangeUDP(t, addr, q); !bytes.Equal(got, want) {
		t.Errorf("over UDP:\n got %x\nwant %x", got, want)
	}
	if got := exchangeTCP(t, addr, q); !bytes.Equal(got, z.respondTCP(q, nil)) {
		t.Errorf("over TCP:\n got %x\nwant %x", got, want)
	}
}

// dig, the tool a DNS operator uses: answers, NXDOMAIN, and an answer too big
// for a 512-byte datagram, which comes back truncated and is asked again over
// TCP.
func TestDigAgainstTheServer(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		t.Skip("dig is not installed (Debian package bind9-dnsutils)")
	}
	zone := filepath.Join(t.TempDir(), "big.zone")
	var b strings.Builder
	b.WriteString("$ORIGIN big.test.\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.80\n")
	for i := range 60 { // 60 addresses: about 1 KB, more than a 512-byte datagram
		b.WriteString("many A 198.51.100." + strconv.Itoa(i+1) + "\n")
	}
	if err := os.WriteFile(zone, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := startDNS(t, zone)
	host, port, _ := net.SplitHostPort(addr)
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), serverWait)
		defer cancel()
		out, err := exec.CommandContext(ctx, dig, append([]string{"@" + host, "-p", port, "+norec", "+time=2", "+tries=3"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("+short", "www.big.test", "A"); strings.TrimSpace(out) != "192.0.2.80" {
		t.Errorf("dig www.big.test A: %q", out)
	}
	if out := run("nothere.big.test", "A"); !strings.Contains(out, "status: NXDOMAIN") || !strings.Contains(out, "SOA") {
		t.Errorf("dig nothere.big.test A: want NXDOMAIN with the SOA:\n%s", out)
	}
	out := run("+noedns", "many.big.test", "A")
	if !strings.Contains(out, "Truncated, retrying in TCP mode") || strings.Count(out, "198.51.100.") != 60 {
		t.Errorf("dig +noedns many.big.test A: want a truncated answer retried over TCP with all 60 addresses:\n%s", out)
	}
}

// A zone with an error is refused at start, with its file and line.
func TestZoneWithAnErrorIsRefusedAtStart(t *testing.T) {
	zone := filepath.Join(t.TempDir(), "bad.zone")
	os.WriteFile(zone, []byte("$ORIGIN bad.test.\n$TTL 300\n@ SOA ns hostmaster 1 2 3 4 5\nwww A 300.1.2.3\n"), 0o644)
	f := clitest.Flags()
	err := cli.ServePacket(context.Background(), f, setup(f, zone), nil)
	if err == nil || !strings.Contains(err.Error(), "bad.zone:4") {
		t.Errorf("serving a zone with a bad address on line 4: %v, want an error naming bad.zone:4", err)
	}
}
