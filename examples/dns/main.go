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
	"net"

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

// setup loads the zone and makes the server; f.AlsoListen then serves TCP on
// the UDP port.
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
		f.AlsoListen = func(e *shard.Engine, bound net.Addr) error {
			if udp, ok := bound.(*net.UDPAddr); ok {
				_, err := e.Listen("tcp", udp.String(), s)
				return err
			}
			return nil // unixgram: no stream beside it
		}
		return s, nil
	}
}
