package main

// The authoritative answer to a query, as NSD gives it (RFC 1034 §4.3.2's
// algorithm for one zone, without wildcards), written into the caller's buffer.
//
// Guarantees:
//   - respond and respondTCP never panic. They return nil (send nothing) for a
//     message shorter than a header or with QR set; any other message gets one
//     response, with the query's ID, that fits the limit below.
//   - A query that does not read as one (a question count other than 1,
//     records in the answer or authority section, a truncated or compressed
//     name, bytes after the last record, a malformed OPT) gets FORMERR: a
//     header alone. An opcode other than QUERY gets NOTIMP, also a header
//     alone.
//   - The response is appended to out[:0]: with cap(out) at least maxUDPSize
//     (respond) or maxTCPSize (respondTCP) an answer allocates nothing.
//
// The answer, for a query in class IN whose name is in the zone:
//   - An RRset of QTYPE at QNAME: in the answer section, with AA. For NS, the A
//     and AAAA records of the servers the zone has go in the additional section
//     when they fit.
//   - A CNAME at QNAME (QTYPE not CNAME): the CNAME, then the answer for its
//     target when the target is in the zone, up to maxCNAMEChain CNAMEs (a
//     loop ends there). The RCODE is the last name's (RFC 6604 §3): NXDOMAIN
//     when the last target does not exist.
//   - No such name: NXDOMAIN, the SOA in the authority section with the TTL
//     min(SOA TTL, MINIMUM) (RFC 2308 §5).
//   - The name with other types only, or none (an empty non-terminal), or an
//     unknown QTYPE: NODATA: NOERROR, no answer, the SOA as above.
//   - A name at or below a delegation: a referral: no AA, the delegation's NS
//     in the authority section, their addresses in the additional section (glue
//     under the delegation must fit, RFC 9471 §3, or the response is truncated).
//     DS at the delegation point itself is the parent's, answered here.
//   - QTYPE ANY: every RRset at the name, as NSD does by default, rather than
//     RFC 8482's one-set answer: a zone here is small and unsigned, so an ANY
//     answer costs what any other does, and a large one is truncated like any
//     other, which sends the client to TCP.
//
// Refused: a name outside the zone, a class other than IN (NSD refuses those
// too, answering CHAOS only for its own identity), and AXFR and IXFR (no zone
// transfers). EDNS: a query with an OPT record gets one back, advertising
// advertisedUDPSize; VERSION above 0 gets BADVERS. The UDP limit is the
// client's payload size clamped to [minUDPSize, maxUDPSize], or minUDPSize
// without EDNS. An answer or authority section that does not fit is not cut:
// the response is the header and question alone, with TC set (and OPT).
//
// Left out: wildcards, DNSSEC (DO is not echoed, no RRSIGs), NS records in the
// authority section of positive answers (minimal responses, as BIND and Knot
// give by default), and the CHAOS-class identity queries.

// Limits of a response's size.
const (
	// minUDPSize is what every client takes over UDP (RFC 1035 §4.2.1), and
	// the limit for one that sends no OPT, or asks for less.
	minUDPSize = 512
	// maxUDPSize caps the client's EDNS payload size: 1232 bytes fit a 1280-byte
	// IPv6 minimum MTU with the IPv6 and UDP headers, so an answer is never
	// fragmented (DNS flag day 2020; NSD's default). Larger answers go to TCP.
	maxUDPSize = 1232
	// advertisedUDPSize is the payload size the server's OPT offers: what it
	// would take from a client.
	advertisedUDPSize = maxUDPSize
	// maxTCPSize is a DNS message's limit over TCP, where a 16-bit length
	// frames it (RFC 1035 §4.2.2).
	maxTCPSize = 65535
	// maxCNAMEChain bounds the CNAMEs followed for one answer; a loop of
	// CNAMEs stops here, with what it has.
	maxCNAMEChain = 8
)

// respond appends to out[:0] the UDP response to the query msg and returns it,
// or nil when msg gets none. Safe from any goroutine: the zone is read-only.
func (z *zone) respond(msg, out []byte) []byte { return z.answer(msg, out, false) }

// respondTCP is respond for a query that came over TCP: the limit is 65535
// bytes. The caller frames the query and the response with their lengths.
func (z *zone) respondTCP(msg, out []byte) []byte { return z.answer(msg, out, true) }

func (z *zone) answer(msg, out []byte, stream bool) []byte {
	q, status := parseQuery(msg)
	switch status {
	case queryDrop:
		return nil
	case queryFormErr:
		return appendHeaderOnly(out[:0], &q, rcodeFormErr)
	case queryNotImp:
		return appendHeaderOnly(out[:0], &q, rcodeNotImp)
	}
	var r response
	r.begin(out, msg, &q, payloadLimit(&q, stream))
	authoritative, rcode, fits := z.resolve(&r, &q)
	var flags uint16
	if authoritative {
		flags = flagAA
	}
	return r.finish(&q, flags, rcode, !fits)
}

// payloadLimit returns the most bytes the response to q may take, less its OPT.
func payloadLimit(q *query, stream bool) int {
	limit := minUDPSize
	switch {
	case stream:
		limit = maxTCPSize
	case q.edns:
		limit = min(max(int(q.udpSize), minUDPSize), maxUDPSize)
	}
	if q.edns {
		limit -= optLen
	}
	return limit
}

// resolve writes the records of the answer to q and returns the header's AA
// bit and RCODE; fits is false when a set that must be there did not fit.
func (z *zone) resolve(r *response, q *query) (authoritative bool, rcode int, fits bool) {
	switch {
	case q.edns && q.ednsVersion != 0:
		return false, rcodeBadVers, true
	case q.qclass != classIN, q.qtype == typeAXFR, q.qtype == typeIXFR:
		return false, rcodeRefused, true
	}
	var lowered [maxNameLen]byte
	name := lowerName(lowered[:0], q.name)
	if !isUnder(name, z.apex) {
		return false, rcodeRefused, true
	}
	owner := q.name // the name as it goes in owner fields
	for chain := 0; ; chain++ {
		n, cut := z.find(name)
		if cut != nil && (q.qtype != typeDS || n != cut) {
			return chain > 0, rcodeNoError, z.referral(r, cut)
		}
		if n == nil {
			return true, rcodeNXDomain, r.addSet(authoritySection, z.apexNode.name, &z.negativeSOA)
		}
		if set := n.set(q.qtype); set != nil {
			fits = r.addSet(answerSection, owner, set)
			if fits && set.rrtype == typeNS {
				z.addAddresses(r, set, nil)
			}
			return true, rcodeNoError, fits
		}
		if q.qtype == typeANY && len(n.sets) > 0 {
			for i := range n.sets {
				if !r.addSet(answerSection, owner, &n.sets[i]) {
					return true, rcodeNoError, false
				}
			}
			return true, rcodeNoError, true
		}
		cname := n.set(typeCNAME)
		if cname == nil {
			return true, rcodeNoError, r.addSet(authoritySection, z.apexNode.name, &z.negativeSOA)
		}
		if !r.addSet(answerSection, owner, cname) {
			return true, rcodeNoError, false
		}
		owner = cname.rrs[0][rrFixedLen:]
		name = lowerName(lowered[:0], owner)
		if !isUnder(name, z.apex) || chain+1 == maxCNAMEChain {
			return true, rcodeNoError, true
		}
	}
}

// find returns the node of name (lower case, in the zone), nil if there is
// none, and the delegation that name is at or under, nil if there is none.
func (z *zone) find(name []byte) (n, cut *node) {
	if n := z.nodes[string(name)]; n != nil {
		return n, n.cut
	}
	// The closest existing name above it says whether it is under a
	// delegation. The apex exists, so the walk ends there at the latest.
	for off := int(name[0]) + 1; off < len(name); off += int(name[off]) + 1 {
		if encloser := z.nodes[string(name[off:])]; encloser != nil {
			return nil, encloser.cut
		}
	}
	return nil, nil
}

// referral writes the delegation cut's NS set in the authority section and
// their addresses in the additional section; false if they did not fit.
func (z *zone) referral(r *response, cut *node) bool {
	ns := cut.set(typeNS)
	return r.addSet(authoritySection, cut.name, ns) && z.addAddresses(r, ns, cut.lower)
}

// addAddresses writes the A and AAAA sets of the names ns names that are in
// the zone in the additional section. Those at or under required (nil for
// none) must fit, and false says one did not; the others are left out when
// they do not fit.
func (z *zone) addAddresses(r *response, ns *rrset, required []byte) bool {
	var lowered [maxNameLen]byte
	for _, rr := range ns.rrs {
		server := rr[rrFixedLen:]
		name := lowerName(lowered[:0], server)
		n := z.nodes[string(name)]
		if n == nil {
			continue
		}
		glue := required != nil && isUnder(name, required)
		for _, rrtype := range [...]uint16{typeA, typeAAAA} {
			if set := n.set(rrtype); set != nil && !r.addSet(additionalSection, server, set) && glue {
				return false
			}
		}
	}
	return true
}
