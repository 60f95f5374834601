// Package dnsload is the workload of the harness's dns section: one
// authoritative zone, the dnsperf query file that runs against it, and a
// check that a server answers the file's kinds of query as the zone says.
//
// The zone, bench.test., holds an SOA, two NS records with their addresses,
// Hosts A records (hostN, 10.0.N/256.N%256), an AAAA record on every tenth
// host (fd00::N), a TXT record on every hundredth and a CNAME (wwwN) to each
// of the first ten. The query file (Queries) is QueryLines lines, every
// block of 20 holding 16 A queries for hosts that exist, 2 AAAA queries for
// hosts that have one, 1 query for a name the zone lacks (NXDOMAIN) and 1
// AAAA query for a host without one (NODATA: NOERROR, no answer, the SOA in
// the authority section). dnsperf reads the file in order and starts it
// again at its end.
//
// The zone holds no wildcard, no delegation and no empty non-terminal, so a
// server needs none of those to answer every query right.
package dnsload

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// The zone's shape.
const (
	// Origin is the zone's apex.
	Origin = "bench.test."
	// Hosts is how many hostN A records the zone holds, host0 to host999.
	Hosts = 1000
	// Every AAAAEvery-th host (host0, host10, ...) has an AAAA record.
	AAAAEvery = 10
	// Every TXTEvery-th host has a TXT record.
	TXTEvery = 100
	// CNAMEs is how many wwwN CNAMEs there are, www0 to www9 (to host0 to
	// host9).
	CNAMEs = 10
)

// SOA's fields. Minimum (the negative-caching TTL, RFC 2308) is 300 s.
const (
	soaTTL     = 3600
	soaMinimum = 300
)

// HostA returns hostN's IPv4 address: 10.0.N/256.N%256.
func HostA(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(n / 256), byte(n % 256)})
}

// HostAAAA returns the IPv6 address of hostN, for an N that is a multiple
// of AAAAEvery: fd00::N, N in hex.
func HostAAAA(n int) netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xfd, 14: byte(n >> 8), 15: byte(n)})
}

// Zone returns the zone file's text, in RFC 1035 master-file syntax, names
// relative to $ORIGIN.
func Zone() string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL %d\n", Origin, soaTTL)
	fmt.Fprintf(&b, "@ IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 %d\n", soaMinimum)
	b.WriteString("@ IN NS ns1\n@ IN NS ns2\nns1 IN A 127.0.0.1\nns2 IN A 127.0.0.2\n")
	for n := range Hosts {
		fmt.Fprintf(&b, "host%d IN A %s\n", n, HostA(n))
		if n%AAAAEvery == 0 {
			fmt.Fprintf(&b, "host%d IN AAAA %s\n", n, HostAAAA(n))
		}
		if n%TXTEvery == 0 {
			fmt.Fprintf(&b, "host%d IN TXT \"host %d of the benchmark zone\"\n", n, n)
		}
	}
	for n := range CNAMEs {
		fmt.Fprintf(&b, "www%d IN CNAME host%d\n", n, n)
	}
	return b.String()
}

// Files are the zone file and the query file, written into a directory.
type Files struct {
	Zone    string // the zone file, named after Origin: bench.test.zone
	Queries string // dnsperf's -d file: queries.txt
}

// Write writes the zone file and the query file into dir.
func Write(dir string) (Files, error) {
	f := Files{
		Zone:    filepath.Join(dir, strings.TrimSuffix(Origin, ".")+".zone"),
		Queries: filepath.Join(dir, "queries.txt"),
	}
	if err := os.WriteFile(f.Zone, []byte(Zone()), 0o644); err != nil {
		return Files{}, fmt.Errorf("dnsload: %w", err)
	}
	if err := os.WriteFile(f.Queries, []byte(Queries()), 0o644); err != nil {
		return Files{}, fmt.Errorf("dnsload: %w", err)
	}
	return f, nil
}
