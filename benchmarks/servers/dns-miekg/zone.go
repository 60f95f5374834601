package main

import (
	"fmt"
	"os"

	"github.com/miekg/dns"
)

// maxCNAMEChain bounds how many CNAMEs an answer follows inside the zone, so
// that a loop in a zone file ends.
const maxCNAMEChain = 8

// zone is one zone's records, read-only once loaded: safe from every query's
// goroutine.
type zone struct {
	origin string                         // the apex, canonical: "bench.test."
	soa    *dns.SOA                       // the apex's SOA, for negative answers
	names  map[string]map[uint16][]dns.RR // canonical owner name → type → records
}

// loadZone parses a zone file with miekg's zone parser. Its first record
// must be the SOA (RFC 1035 5.2), whose owner is the zone's origin; every
// record must be at or below it.
func loadZone(path string) (*zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z := &zone{names: map[string]map[uint16][]dns.RR{}}
	zp := dns.NewZoneParser(f, "", path)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if err := z.add(rr); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if z.soa == nil {
		return nil, fmt.Errorf("%s: no records", path)
	}
	return z, nil
}

// add files rr under its owner name and type; the first record sets the
// origin and must be an SOA. Every name between an owner and the origin
// exists too (an empty non-terminal: NODATA, not NXDOMAIN).
func (z *zone) add(rr dns.RR) error {
	name := dns.CanonicalName(rr.Header().Name)
	if z.soa == nil {
		soa, ok := rr.(*dns.SOA)
		if !ok {
			return fmt.Errorf("the first record is %s, not the SOA", dns.TypeToString[rr.Header().Rrtype])
		}
		z.origin, z.soa = name, soa
	}
	if !dns.IsSubDomain(z.origin, name) {
		return fmt.Errorf("%s is outside the zone %s", name, z.origin)
	}
	byType := z.names[name]
	if byType == nil {
		byType = map[uint16][]dns.RR{}
		z.names[name] = byType
	}
	byType[rr.Header().Rrtype] = append(byType[rr.Header().Rrtype], rr)
	for parent := name; parent != z.origin; {
		off, end := dns.NextLabel(parent, 0)
		if end {
			break
		}
		parent = parent[off:]
		if z.names[parent] == nil {
			z.names[parent] = map[uint16][]dns.RR{}
		}
	}
	return nil
}

// answer builds the response to req: the records of its question's name and
// type; for a name that has a CNAME and not the type, the CNAME and, in turn,
// what its target has, inside the zone; NODATA or NXDOMAIN (by the last name
// of the chain, RFC 6604) with the SOA; REFUSED outside the zone.
func (z *zone) answer(req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	if len(req.Question) != 1 {
		return resp.SetRcodeFormatError(req)
	}
	resp.SetReply(req)
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	if q.Qclass != dns.ClassINET || !dns.IsSubDomain(z.origin, name) {
		return resp.SetRcode(req, dns.RcodeRefused)
	}
	resp.Authoritative = true
	for range maxCNAMEChain {
		byType, exists := z.names[name]
		if !exists {
			resp.Rcode = dns.RcodeNameError
			break
		}
		if rrs := byType[q.Qtype]; len(rrs) > 0 {
			resp.Answer = append(resp.Answer, rrs...)
			return resp
		}
		cname := byType[dns.TypeCNAME]
		if len(cname) == 0 {
			break // NODATA
		}
		resp.Answer = append(resp.Answer, cname[0])
		name = dns.CanonicalName(cname[0].(*dns.CNAME).Target)
		if !dns.IsSubDomain(z.origin, name) {
			return resp // the target is another zone's to answer
		}
	}
	resp.Ns = []dns.RR{z.negativeSOA()}
	return resp
}

// negativeSOA is the SOA of a negative answer, whose TTL is the lesser of the
// SOA's own and its MINIMUM field (RFC 2308 section 3).
func (z *zone) negativeSOA() dns.RR {
	soa := *z.soa
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return &soa
}
