package main

// The zone: what a master file (zonefile.go reads it) becomes once loaded, laid
// out for answering without allocating.
//
// Layout: one map from an owner name, in wire form and lower case, to its node;
// a node holds its RRsets in the order the file first wrote each type, and
// every record of a set is prebuilt in wire form (TYPE, CLASS, TTL, RDLENGTH,
// RDATA), ready to copy after an owner name. A query's name, lower-cased into a
// stack array, finds its node with m[string(b)], which the compiler does without
// allocating.
//
// Choices, checked when the zone is built:
//   - Exactly one SOA, and it names the apex: the zone is the SOA's owner and
//     every name under it. Every owner must be at or under the apex.
//   - A name with a CNAME has nothing else (RFC 1034 §3.6.2), and one CNAME.
//   - An identical record written twice is kept once (RFC 2181 §5). An RRset
//     whose records give different TTLs takes the first one's, as BIND does
//     (RFC 2181 §5.2 forbids serving them apart).
//   - An NS set below the apex is a delegation: the zone is not authoritative
//     at or below it, and what the file writes there is glue, served only in
//     referrals (RFC 1034 §4.2.1).
//   - Every name between an owner and the apex exists (an empty non-terminal,
//     RFC 8020 §2 for why that matters), as a node with no sets.
//   - The zone need not have NS records at its apex (named-checkzone wants
//     them, NSD does not); this example leaves that to whoever writes the zone.

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Errors a zone may fail to load with, wrapped with the file and line.
var (
	errUnsupported  = errors.New("not supported")
	errOutsideZone  = errors.New("outside the zone")
	errCNAMEAndMore = errors.New("a CNAME and other data at one name")
	errSOACount     = errors.New("a zone has exactly one SOA, at its apex")
)

// rrFixedLen is the size of a record's TYPE, CLASS, TTL and RDLENGTH.
const rrFixedLen = 10

// zone is a loaded zone. It is not changed once built, so any number of
// goroutines may answer from it at once.
type zone struct {
	// apex is the zone's name, wire form, lower case.
	apex     []byte
	apexNode *node
	nodes    map[string]*node
	// negativeSOA is the apex SOA with the TTL of negative answers:
	// min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
	negativeSOA rrset
	// records counts the records the zone serves, glue included.
	records int
}

// node is one name of the zone.
type node struct {
	// name is the owner name in wire form, in the case the file first wrote
	// it; lower is the same in lower case (the node's key).
	name, lower []byte
	// sets holds the node's RRsets, in the order the file first wrote each
	// type. An empty non-terminal has none.
	sets []rrset
	// cut is the delegation point (a node with NS below the apex) at or above
	// this node, the one nearest the apex; nil where the zone is authoritative.
	cut *node
}

// rrset is the records of one type at one name.
type rrset struct {
	rrtype uint16
	// rrs holds each record as it goes on the wire after its owner name: TYPE,
	// CLASS, TTL, RDLENGTH, RDATA (names in RDATA uncompressed).
	rrs [][]byte
	// line is where the file first wrote the set, for errors.
	line int
}

// set returns the node's RRset of type rrtype, or nil.
func (n *node) set(rrtype uint16) *rrset {
	for i := range n.sets {
		if n.sets[i].rrtype == rrtype {
			return &n.sets[i]
		}
	}
	return nil
}

// ttl returns the set's TTL.
func (s *rrset) ttl() uint32 {
	rr := s.rrs[0]
	return uint32(rr[4])<<24 | uint32(rr[5])<<16 | uint32(rr[6])<<8 | uint32(rr[7])
}

// loadZone reads the master file at path. The zone is the owner of its SOA
// record; relative names before the first $ORIGIN are an error.
func loadZone(path string) (*zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseZone(f, path, "")
}

// parseZone reads a master file from r; name is the file's name for errors. A
// non-empty origin is the zone's name: the first $ORIGIN, and the name its SOA
// must have.
func parseZone(r io.Reader, name, origin string) (*zone, error) {
	p := zoneReader{file: name, lex: newLexer(r)}
	var want []byte
	if origin != "" {
		var err error
		if want, err = p.name(token{text: origin}); err != nil {
			return nil, err
		}
		p.origin = want
	}
	var records []record
	for {
		e, err := p.lex.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, p.errorAt(p.lex.line, "%w", err)
		}
		rec, isRecord, err := p.entry(e)
		if err != nil {
			return nil, err
		}
		if isRecord {
			records = append(records, rec)
		}
	}
	return p.build(records, want)
}

// record is one record as read from the file.
type record struct {
	owner  []byte // wire form, case as written
	rrtype uint16
	ttl    uint32
	rdata  []byte // wire form, names uncompressed
	line   int
}

// build makes the zone of records, whose apex is the SOA's owner (and must be
// want, when want is not nil).
func (p *zoneReader) build(records []record, want []byte) (*zone, error) {
	soa, err := p.findSOA(records, want)
	if err != nil {
		return nil, err
	}
	z := &zone{apex: lowerName(nil, soa.owner), nodes: make(map[string]*node)}
	for i := range records {
		if err := z.add(p, &records[i]); err != nil {
			return nil, err
		}
	}
	z.addEmptyNonTerminals()
	z.markCuts()
	z.apexNode = z.nodes[string(z.apex)]
	negative := z.apexNode.set(typeSOA)
	rr := append([]byte(nil), negative.rrs[0]...)
	if minimum := uint32(be16(rr[len(rr)-4:]))<<16 | uint32(be16(rr[len(rr)-2:])); minimum < negative.ttl() {
		put16(rr[4:], uint16(minimum>>16))
		put16(rr[6:], uint16(minimum))
	}
	z.negativeSOA = rrset{rrtype: typeSOA, rrs: [][]byte{rr}, line: negative.line}
	return z, nil
}

// findSOA returns the one SOA record of records.
func (p *zoneReader) findSOA(records []record, want []byte) (*record, error) {
	var soa *record
	for i := range records {
		rec := &records[i]
		if rec.rrtype != typeSOA {
			continue
		}
		if soa != nil {
			return nil, p.errorAt(rec.line, "a second SOA (the first is at line %d): %w", soa.line, errSOACount)
		}
		soa = rec
	}
	if soa == nil {
		return nil, p.errorAt(0, "no SOA record: %w", errSOACount)
	}
	if want != nil && !equalFold(soa.owner, want) {
		return nil, p.errorAt(soa.line, "the SOA is at %s, not at the origin %s: %w", nameString(soa.owner), nameString(want), errSOACount)
	}
	return soa, nil
}

// add puts rec in its node's set, making both as needed.
func (z *zone) add(p *zoneReader, rec *record) error {
	lower := lowerName(nil, rec.owner)
	if !isUnder(lower, z.apex) {
		return p.errorAt(rec.line, "%s is %w %s", nameString(rec.owner), errOutsideZone, nameString(z.apex))
	}
	n := z.nodes[string(lower)]
	if n == nil {
		n = &node{name: rec.owner, lower: lower}
		z.nodes[string(lower)] = n
	}
	set := n.set(rec.rrtype)
	if set == nil {
		for _, other := range n.sets {
			if rec.rrtype == typeCNAME || other.rrtype == typeCNAME {
				return p.errorAt(rec.line, "%s (the other at line %d): %w", nameString(rec.owner), other.line, errCNAMEAndMore)
			}
		}
		n.sets = append(n.sets, rrset{rrtype: rec.rrtype, line: rec.line})
		set = &n.sets[len(n.sets)-1]
	}
	ttl := rec.ttl
	if len(set.rrs) > 0 {
		ttl = set.ttl()
	}
	rr := appendRecordWire(nil, rec.rrtype, ttl, rec.rdata)
	for _, have := range set.rrs {
		if string(have) == string(rr) {
			return nil
		}
	}
	if rec.rrtype == typeCNAME && len(set.rrs) > 0 {
		return p.errorAt(rec.line, "%s has a second CNAME (the first at line %d): %w", nameString(rec.owner), set.line, errCNAMEAndMore)
	}
	set.rrs = append(set.rrs, rr)
	z.records++
	return nil
}

// appendRecordWire appends a record's TYPE, CLASS (IN), TTL, RDLENGTH and RDATA.
func appendRecordWire(dst []byte, rrtype uint16, ttl uint32, rdata []byte) []byte {
	dst = append(dst, byte(rrtype>>8), byte(rrtype), byte(classIN>>8), byte(classIN),
		byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl), byte(len(rdata)>>8), byte(len(rdata)))
	return append(dst, rdata...)
}

// addEmptyNonTerminals gives every name between an owner and the apex a node.
func (z *zone) addEmptyNonTerminals() {
	owners := make([]*node, 0, len(z.nodes))
	for _, n := range z.nodes {
		owners = append(owners, n)
	}
	for _, n := range owners {
		for off := int(n.lower[0]) + 1; len(n.lower)-off > len(z.apex); off += int(n.lower[off]) + 1 {
			if z.nodes[string(n.lower[off:])] != nil {
				break // it and every name above it are already there
			}
			z.nodes[string(n.lower[off:])] = &node{name: n.name[off:], lower: n.lower[off:]}
		}
	}
}

// markCuts sets each node's cut: the delegation at or above it nearest the apex.
func (z *zone) markCuts() {
	for _, n := range z.nodes {
		n.cut = z.topmostCut(n.lower)
	}
}

// topmostCut returns the node with NS at or above name (lower case, in the
// zone), below the apex, nearest the apex; or nil.
func (z *zone) topmostCut(name []byte) *node {
	var cut *node
	for off := 0; len(name)-off > len(z.apex); off += int(name[off]) + 1 {
		if n := z.nodes[string(name[off:])]; n != nil && n.set(typeNS) != nil {
			cut = n
		}
	}
	return cut
}

// isUnder reports whether name is ancestor or under it, both in wire form and
// lower case.
func isUnder(name, ancestor []byte) bool {
	for off := 0; off < len(name); off += int(name[off]) + 1 {
		if len(name)-off == len(ancestor) {
			return string(name[off:]) == string(ancestor)
		}
		if name[off] == 0 {
			break
		}
	}
	return false
}

// zoneError is an error in a master file, at a line of it (0: the file as a
// whole).
type zoneError struct {
	file string
	line int
	err  error
}

func (e *zoneError) Error() string {
	if e.line == 0 {
		return fmt.Sprintf("%s: %v", e.file, e.err)
	}
	return fmt.Sprintf("%s:%d: %v", e.file, e.line, e.err)
}

func (e *zoneError) Unwrap() error { return e.err }
