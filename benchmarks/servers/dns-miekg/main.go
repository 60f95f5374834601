// Command dns-miekg is the Go DNS peer of the load benchmarks: an
// authoritative server for the one zone of a zone file, written with
// github.com/miekg/dns, the library most Go DNS servers (CoreDNS among them)
// are built on. It serves UDP only, with one dns.Server: one goroutine reads
// the socket and miekg/dns starts a goroutine per query, which answers it
// from the zone (zone.go) and writes the response.
//
// Answers are authoritative (AA): the records of the question's name and
// type; a CNAME, followed inside the zone, when the name has one and not the
// type; NODATA (NOERROR, no answer) and NXDOMAIN with the zone's SOA in the
// authority section; REFUSED for a name outside the zone. Responses are
// compressed and truncated (TC) to 512 bytes, or to the client's EDNS buffer
// size when it sends one.
//
// Usage:
//
//	dns-miekg -addr 127.0.0.1:5300 -zone bench.test.zone
package main

import (
	"flag"
	"log"

	"github.com/miekg/dns"
	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

func main() {
	zoneFile := flag.String("zone", "", "zone file to serve, its SOA first (required)")
	addr := peer.Addr("dns-miekg")
	if *zoneFile == "" {
		log.Fatal("dns-miekg: -zone is required")
	}
	z, err := loadZone(*zoneFile)
	if err != nil {
		log.Fatalf("dns-miekg: %v", err)
	}
	srv := &dns.Server{Addr: addr, Net: "udp", Handler: dns.HandlerFunc(z.serve)}
	peer.Serve("dns-miekg", srv.ListenAndServe, srv.ShutdownContext)
}

// serve answers one query from the zone.
func (z *zone) serve(w dns.ResponseWriter, req *dns.Msg) {
	resp := z.answer(req)
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		resp.SetEdns0(uint16(size), false)
	}
	resp.Compress = true
	resp.Truncate(size)
	if err := w.WriteMsg(resp); err != nil {
		log.Printf("dns-miekg: %v", err)
	}
}
