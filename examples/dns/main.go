// Command dns is an authoritative DNS server for one zone, read from a master
// file in the format NSD and BIND read ($ORIGIN, $TTL, @, relative and absolute
// names; SOA, NS, A, AAAA, TXT, CNAME). It answers over UDP on sycamore's
// loops, one SO_REUSEPORT socket per loop read and answered in batches
// (recvmmsg, sendmmsg), and over TCP on the same port for the answers that do
// not fit a datagram: NXDOMAIN and NODATA with the SOA, a CNAME with its
// record, EDNS0 with the client's buffer size, the TC bit when an answer does
// not fit, FORMERR for a malformed query (or no answer when not even its
// header can be read). A zone with an error is refused at start, with its line.
//
//	go run ./examples/dns -zone examples/dns/testdata/example.zone -loops 2
//	dig @127.0.0.1 -p 5300 www.example.com A
//
// The flags (-addr, -loops, -pin, -wait, ...) are the ones every example
// shares; -h lists them.
package main

import (
	"flag"
	"fmt"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

func main() {
	f := cli.Register(flag.CommandLine, "127.0.0.1:5300", false)
	zonePath := flag.String("zone", "", "the zone's master file (BIND and NSD format)")
	flag.Parse()
	cli.MainPacket("dns", f, setup(f, *zonePath))
}

// setup loads the zone, makes the server, and listens on TCP on -addr first:
// the UDP socket then takes the same port. (The other way round, a port the
// kernel picks for UDP is often held on TCP by a client's connection in
// TIME_WAIT, which a listener cannot bind over.)
func setup(f *cli.Flags, zonePath string) func(e *shard.Engine) (transport.PacketHandler, error) {
	return func(e *shard.Engine) (transport.PacketHandler, error) {
		if zonePath == "" {
			return nil, fmt.Errorf("-zone FILE is required")
		}
		z, err := loadZone(zonePath)
		if err != nil {
			return nil, err
		}
		s := newServer(z, len(e.Loops()))
		if network, address := cli.Network(f.Addr); network == "tcp" {
			bound, err := e.Listen(network, address, s)
			if err != nil {
				return nil, err
			}
			f.Addr = bound.String() // the UDP sockets bind the port TCP got
		}
		return s, nil
	}
}
