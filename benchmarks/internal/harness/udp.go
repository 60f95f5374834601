package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
)

// freeUDPPortTries bounds the search for a port free for UDP and for TCP:
// the kernel hands out UDP and TCP ports from the same range independently,
// so the first UDP port is free for TCP too but for a rare collision.
const freeUDPPortTries = 10

// freeUDPPort returns a loopback port free for UDP and for TCP both, since a
// DNS server (NSD) listens on the two at once.
func freeUDPPort() (int, error) {
	var err error
	for range freeUDPPortTries {
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			break
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		var ln net.Listener
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		pc.Close()
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("harness: finding a free UDP port: %w", err)
}

// udpTables are the kernel's tables of UDP sockets, IPv4 and IPv6.
var udpTables = []string{"/proc/net/udp", "/proc/net/udp6"}

// udpBound reports whether some UDP socket is bound to port, on any address,
// by the kernel's tables.
func udpBound(port int) bool {
	for _, path := range udpTables {
		b, err := os.ReadFile(path)
		if err == nil && tableHasPort(b, port) {
			return true
		}
	}
	return false
}

// tableHasPort reports whether a table in the format of /proc/net/udp, a
// header line and then one socket a line, "sl local_address rem_address st
// ...", has a socket whose local port is port: the hex digits after the last
// colon of local_address ("0100007F:14E9", or 32 hex digits and a port for
// IPv6).
func tableHasPort(table []byte, port int) bool {
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // the header
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		i := bytes.LastIndexByte(f[1], ':')
		if i < 0 {
			continue
		}
		if p, err := strconv.ParseUint(string(f[1][i+1:]), 16, 16); err == nil && int(p) == port {
			return true
		}
	}
	return false
}
