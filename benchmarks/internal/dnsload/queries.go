package dnsload

import (
	"fmt"
	"strings"
)

// Kind is what a query of the file should get.
type Kind int

const (
	// AHit is an A query for a host that has one: NOERROR, the address.
	AHit Kind = iota
	// AAAAHit is an AAAA query for a host that has one.
	AAAAHit
	// NXDomain is an A query for a name the zone lacks: NXDOMAIN, no answer,
	// the SOA in the authority section.
	NXDomain
	// NoData is an AAAA query for a host with no AAAA record: NOERROR, no
	// answer, the SOA in the authority section.
	NoData
)

func (k Kind) String() string {
	return [...]string{"A hit", "AAAA hit", "NXDOMAIN", "NODATA"}[k]
}

// Query is one line of the query file.
type Query struct {
	Name string // fully qualified: "host617.bench.test."
	Type string // "A" or "AAAA"
	Kind Kind
	Host int // N of hostN (AHit, AAAAHit, NoData)
}

// The query file's shape.
const (
	// QueryLines is the file's length: every A query of it names a different
	// host (see hitStride), so one pass touches 800 of the 1,000.
	QueryLines = 1000
	// blockLen is the queries of a block: 16 A hits, 2 AAAA hits, 1 NXDOMAIN
	// and 1 NODATA.
	blockLen = 20
	// NXDomainShare is the share of the file's queries that get NXDOMAIN;
	// every other query gets NOERROR.
	NXDomainShare = 1.0 / blockLen
	// hitStride spreads the A queries over the zone: line i asks for host
	// i*617 mod 1000, and 617 is prime to 1000, so no two lines ask for the
	// same host.
	hitStride = 617
)

// QueryList returns the query file's queries, in order.
func QueryList() []Query {
	qs := make([]Query, QueryLines)
	for i := range qs {
		block, slot := i/blockLen, i%blockLen
		switch {
		case slot < 16:
			qs[i] = hostQuery(i*hitStride%Hosts, "A", AHit)
		case slot < 18:
			// Two a block, 100 in all: every host with an AAAA record once.
			qs[i] = hostQuery((2*block+slot-16)*AAAAEvery%Hosts, "AAAA", AAAAHit)
		case slot == 18:
			qs[i] = Query{Name: fmt.Sprintf("nohost%d.%s", block, Origin), Type: "A", Kind: NXDomain}
		default:
			// host3, host23, ...: never a multiple of AAAAEvery.
			qs[i] = hostQuery(block*blockLen+3, "AAAA", NoData)
		}
	}
	return qs
}

func hostQuery(n int, qtype string, kind Kind) Query {
	return Query{Name: fmt.Sprintf("host%d.%s", n, Origin), Type: qtype, Kind: kind, Host: n}
}

// Queries returns the query file's text in dnsperf's format: one "NAME TYPE"
// a line.
func Queries() string {
	var b strings.Builder
	for _, q := range QueryList() {
		fmt.Fprintf(&b, "%s %s\n", q.Name, q.Type)
	}
	return b.String()
}

// Samples are the queries Check sends: one of each Kind, the first the
// "dig host1.bench.test A" of a quick look.
func Samples() []Query {
	return []Query{
		hostQuery(1, "A", AHit),
		hostQuery(10, "AAAA", AAAAHit),
		{Name: "nohost." + Origin, Type: "A", Kind: NXDomain},
		hostQuery(3, "AAAA", NoData),
	}
}
