package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// Header flags of the responses below: QR, with RD copied from the query.
const (
	answerFlags  = flagQR | flagAA | flagRD // an authoritative answer
	nxFlags      = answerFlags | rcodeNXDomain
	plainFlags   = flagQR | flagRD // a referral, or a response without AA
	refusedFlags = plainFlags | rcodeRefused
	formErrFlags = plainFlags | rcodeFormErr
)

func a(text string) []byte    { v := netip.MustParseAddr(text).As4(); return v[:] }
func aaaa(text string) []byte { v := netip.MustParseAddr(text).As16(); return v[:] }

// soaRdata is the example zone's SOA RDATA with both names compressed against
// "example.com." at offset apex.
func soaRdata(apex int) []byte {
	return join(labels("ns1"), ptr(apex), labels("Hostmaster"), ptr(apex),
		u32(2024060101), u32(2*3600), u32(3600), u32(2*7*86400), u32(300))
}

// answerCase is a query to the example zone and the exact response it gets.
type answerCase struct {
	name  string
	query testQuery
	want  []byte
}

// answerCases spell out every response byte: the offsets in pointers are those
// of the question's labels (12 is the question name) and of names written
// before them.
var answerCases = []answerCase{
	{"A at www: two records, owners pointing at the question",
		testQuery{id: 1, name: "www.example.com.", qtype: typeA},
		join(header(1, answerFlags, 1, 2, 0, 0), wireName("www.example.com."), u16(typeA), u16(classIN),
			rr(ptr(12), typeA, 300, a("192.0.2.80")), rr(ptr(12), typeA, 300, a("192.0.2.81")))},
	{"AAAA at www, in the client's mixed case",
		testQuery{id: 2, name: "wWw.ExAmPlE.cOm.", qtype: typeAAAA},
		join(header(2, answerFlags, 1, 1, 0, 0), wireName("wWw.ExAmPlE.cOm."), u16(typeAAAA), u16(classIN),
			rr(ptr(12), typeAAAA, 3600, aaaa("2001:db8::80")))},
	{"CNAME followed in the zone: the A records own the CNAME's target",
		testQuery{id: 3, name: "www2.example.com.", qtype: typeA},
		// www2 is at 12, example at 17; the CNAME's RDATA starts at 34+2+10.
		join(header(3, answerFlags, 1, 3, 0, 0), wireName("www2.example.com."), u16(typeA), u16(classIN),
			rr(ptr(12), typeCNAME, 3600, labels("www"), ptr(17)),
			rr(ptr(46), typeA, 300, a("192.0.2.80")), rr(ptr(46), typeA, 300, a("192.0.2.81")))},
	{"CNAME asked for: the CNAME alone",
		testQuery{id: 4, name: "www2.example.com.", qtype: typeCNAME},
		join(header(4, answerFlags, 1, 1, 0, 0), wireName("www2.example.com."), u16(typeCNAME), u16(classIN),
			rr(ptr(12), typeCNAME, 3600, labels("www"), ptr(17)))},
	{"CNAME to another zone: the CNAME alone, NOERROR",
		testQuery{id: 5, name: "ext.example.com.", qtype: typeA},
		join(header(5, answerFlags, 1, 1, 0, 0), wireName("ext.example.com."), u16(typeA), u16(classIN),
			rr(ptr(12), typeCNAME, 3600, wireName("www.example.org.")))},
	{"CNAME to a name the zone lacks: the CNAME, then NXDOMAIN for its target",
		testQuery{id: 6, name: "dangling.example.com.", qtype: typeA},
		// dangling is at 12, example at 21.
		join(header(6, nxFlags, 1, 1, 1, 0), wireName("dangling.example.com."), u16(typeA), u16(classIN),
			rr(ptr(12), typeCNAME, 3600, labels("nothere"), ptr(21)),
			rr(ptr(21), typeSOA, 300, soaRdata(21)))},
	{"CNAME loop: eight CNAMEs, then it stops",
		testQuery{id: 7, name: "loop1.example.com.", qtype: typeA},
		// loop1 is at 12, example at 18; loop2 is first written at 35+12.
		join(header(7, answerFlags, 1, 8, 0, 0), wireName("loop1.example.com."), u16(typeA), u16(classIN),
			rr(ptr(12), typeCNAME, 3600, labels("loop2"), ptr(18)),
			rr(ptr(47), typeCNAME, 3600, ptr(12)), rr(ptr(12), typeCNAME, 3600, ptr(47)),
			rr(ptr(47), typeCNAME, 3600, ptr(12)), rr(ptr(12), typeCNAME, 3600, ptr(47)),
			rr(ptr(47), typeCNAME, 3600, ptr(12)), rr(ptr(12), typeCNAME, 3600, ptr(47)),
			rr(ptr(47), typeCNAME, 3600, ptr(12)))},
	{"NXDOMAIN: the SOA, its TTL the SOA's MINIMUM (300 < 3600)",
		testQuery{id: 8, name: "nope.example.com.", qtype: typeA},
		join(header(8, nxFlags, 1, 0, 1, 0), wireName("nope.example.com."), u16(typeA), u16(classIN),
			rr(ptr(17), typeSOA, 300, soaRdata(17)))},
	{"NODATA: www has no TXT",
		testQuery{id: 9, name: "www.example.com.", qtype: typeTXT},
		join(header(9, answerFlags, 1, 0, 1, 0), wireName("www.example.com."), u16(typeTXT), u16(classIN),
			rr(ptr(16), typeSOA, 300, soaRdata(16)))},
	{"NODATA: c is an empty non-terminal (a.b.c has an A)",
		testQuery{id: 10, name: "c.example.com.", qtype: typeA},
		join(header(10, answerFlags, 1, 0, 1, 0), wireName("c.example.com."), u16(typeA), u16(classIN),
			rr(ptr(14), typeSOA, 300, soaRdata(14)))},
	{"NODATA: an unknown type (MX) at a name that exists",
		testQuery{id: 11, name: "www.example.com.", qtype: 15},
		join(header(11, answerFlags, 1, 0, 1, 0), wireName("www.example.com."), u16(15), u16(classIN),
			rr(ptr(16), typeSOA, 300, soaRdata(16)))},
	{"referral: a name under the delegation sub gets its NS and glue, without AA",
		testQuery{id: 12, name: "host.sub.example.com.", qtype: typeA},
		// sub is at 17; the first NS's RDATA ("ns" under sub) at 38+12.
		join(header(12, plainFlags, 1, 0, 2, 1), wireName("host.sub.example.com."), u16(typeA), u16(classIN),
			rr(ptr(17), typeNS, 3600, labels("ns"), ptr(17)),
			rr(ptr(17), typeNS, 3600, wireName("ns.example.net.")),
			rr(ptr(50), typeA, 3600, a("192.0.2.100")))},
	{"referral: the glue itself is not answered with authority",
		testQuery{id: 13, name: "ns.sub.example.com.", qtype: typeA},
		// ns is at 12, sub at 15; the first NS's RDATA is the question name.
		join(header(13, plainFlags, 1, 0, 2, 1), wireName("ns.sub.example.com."), u16(typeA), u16(classIN),
			rr(ptr(15), typeNS, 3600, ptr(12)),
			rr(ptr(15), typeNS, 3600, wireName("ns.example.net.")),
			rr(ptr(12), typeA, 3600, a("192.0.2.100")))},
	{"DS at the delegation point is the parent's: NODATA with AA",
		testQuery{id: 14, name: "sub.example.com.", qtype: typeDS},
		join(header(14, answerFlags, 1, 0, 1, 0), wireName("sub.example.com."), u16(typeDS), u16(classIN),
			rr(ptr(16), typeSOA, 300, soaRdata(16)))},
	{"NS at the apex: the servers' addresses in the additional section",
		testQuery{id: 15, name: "example.com.", qtype: typeNS},
		// ns1's name is written at 29+12, ns2's at 47+12.
		join(header(15, answerFlags, 1, 2, 0, 3), wireName("example.com."), u16(typeNS), u16(classIN),
			rr(ptr(12), typeNS, 3600, labels("ns1"), ptr(12)), rr(ptr(12), typeNS, 3600, labels("ns2"), ptr(12)),
			rr(ptr(41), typeA, 3600, a("192.0.2.53")),
			rr(ptr(59), typeA, 600, a("192.0.2.54")), rr(ptr(59), typeAAAA, 600, aaaa("2001:db8::54")))},
	{"ANY at the apex: every set, in the file's order",
		testQuery{id: 16, name: "example.com.", qtype: typeANY},
		// The SOA's MNAME (ns1) is written at 29+12, where the first NS points.
		join(header(16, answerFlags, 1, 6, 0, 0), wireName("example.com."), u16(typeANY), u16(classIN),
			rr(ptr(12), typeSOA, 3600, soaRdata(12)),
			rr(ptr(12), typeNS, 3600, ptr(41)), rr(ptr(12), typeNS, 3600, labels("ns2"), ptr(12)),
			rr(ptr(12), typeA, 3600, a("192.0.2.1")), rr(ptr(12), typeAAAA, 3600, aaaa("2001:db8::1")),
			rr(ptr(12), typeTXT, 3600, []byte("\x0bv=spf1 -all")))},
	{"TXT of several strings, escapes read",
		testQuery{id: 17, name: "txt.example.com.", qtype: typeTXT},
		join(header(17, answerFlags, 1, 2, 0, 0), wireName("txt.example.com."), u16(typeTXT), u16(classIN),
			rr(ptr(12), typeTXT, 3600, []byte("\x0cfirst string\x16second \"quoted\" string\x12ABC; not a comment")),
			rr(ptr(12), typeTXT, 3600, []byte("\x08unquoted\x05words")))},
	{"outside the zone: REFUSED, the question kept, no AA",
		testQuery{id: 18, name: "www.example.org.", qtype: typeA},
		join(header(18, refusedFlags, 1, 0, 0, 0), wireName("www.example.org."), u16(typeA), u16(classIN))},
	{"a name that only ends like the zone (badexample.com) is outside it",
		testQuery{id: 19, name: "badexample.com.", qtype: typeA},
		join(header(19, refusedFlags, 1, 0, 0, 0), wireName("badexample.com."), u16(typeA), u16(classIN))},
	{"class CH: REFUSED",
		testQuery{id: 20, name: "www.example.com.", qtype: typeA, qclass: 3},
		join(header(20, refusedFlags, 1, 0, 0, 0), wireName("www.example.com."), u16(typeA), u16(3))},
	{"AXFR: REFUSED, no zone transfers",
		testQuery{id: 21, name: "example.com.", qtype: typeAXFR},
		join(header(21, refusedFlags, 1, 0, 0, 0), wireName("example.com."), u16(typeAXFR), u16(classIN))},
	{"EDNS: an OPT back, advertising 1232",
		testQuery{id: 22, name: "www.example.com.", qtype: typeA, udpSize: 4096},
		join(header(22, answerFlags, 1, 2, 0, 1), wireName("www.example.com."), u16(typeA), u16(classIN),
			rr(ptr(12), typeA, 300, a("192.0.2.80")), rr(ptr(12), typeA, 300, a("192.0.2.81")), opt(0))},
	{"EDNS version 1: BADVERS (16: 1 in the OPT, 0 in the header)",
		testQuery{id: 23, name: "www.example.com.", qtype: typeA, udpSize: 1232, ednsVersion: 1},
		join(header(23, plainFlags, 1, 0, 0, 1), wireName("www.example.com."), u16(typeA), u16(classIN), opt(1))},
	{"RD clear in the query: clear in the answer",
		testQuery{id: 24, name: "ns1.example.com.", qtype: typeA, flags: flagCD},
		join(header(24, flagQR|flagAA|flagCD, 1, 1, 0, 0), wireName("ns1.example.com."), u16(typeA), u16(classIN),
			rr(ptr(12), typeA, 3600, a("192.0.2.53")))},
}

// TestAnswersByteForByte checks each case's whole response, over UDP and TCP
// (the same, as each fits in 512 bytes).
func TestAnswersByteForByte(t *testing.T) {
	z := exampleZone(t)
	for _, tc := range answerCases {
		t.Run(tc.name, func(t *testing.T) {
			checkBytes(t, z.respond(tc.query.bytes(), nil), tc.want)
			checkBytes(t, z.respondTCP(tc.query.bytes(), nil), tc.want)
			if _, err := decodeMessage(tc.want); err != nil {
				t.Fatalf("the expected response does not decode: %v", err)
			}
		})
	}
}

// TestMalformedQueriesGetFormErrOrNothing sends queries that are not: a header
// that can be read gets a header alone, with the query's ID and RD; less than a
// header, or a response, gets nothing.
func TestMalformedQueriesGetFormErrOrNothing(t *testing.T) {
	good := testQuery{id: 0xABCD, name: "www.example.com.", qtype: typeA}.bytes()
	withCounts := func(qd, an, ns, ar uint16) []byte {
		return join(header(0xABCD, flagRD, qd, an, ns, ar), good[headerLen:])
	}
	formErr := header(0xABCD, formErrFlags, 0, 0, 0, 0)
	cases := []struct {
		name       string
		query      []byte
		want       []byte
		wantAnswer bool
	}{
		{"empty", nil, nil, false},
		{"eleven bytes", good[:11], nil, false},
		{"a response (QR set)", join(header(0xABCD, flagQR|flagRD, 1, 0, 0, 0), good[headerLen:]), nil, false},
		{"a header alone, QDCOUNT 1", good[:headerLen], formErr, true},
		{"QDCOUNT 0", withCounts(0, 0, 0, 0), formErr, true},
		{"QDCOUNT 2", withCounts(2, 0, 0, 0), formErr, true},
		{"ANCOUNT 1", withCounts(1, 1, 0, 0), formErr, true},
		{"NSCOUNT 1", withCounts(1, 0, 1, 0), formErr, true},
		{"ARCOUNT 1, no record", withCounts(1, 0, 0, 1), formErr, true},
		{"question cut in its name", good[:20], formErr, true},
		{"question cut in its type", good[:len(good)-3], formErr, true},
		{"a byte after the question", join(good, []byte{0}), formErr, true},
		{"a compression pointer in the question",
			join(header(0xABCD, flagRD, 1, 0, 0, 0), labels("www"), ptr(12), u16(typeA), u16(classIN)), formErr, true},
		{"an extended label type (0x41)",
			join(header(0xABCD, flagRD, 1, 0, 0, 0), []byte{0x41, 'a', 0}, u16(typeA), u16(classIN)), formErr, true},
		{"a name of 256 bytes",
			join(header(0xABCD, flagRD, 1, 0, 0, 0), wireName(strings.Repeat("abcdefg.", 32)+"ab."), u16(typeA), u16(classIN)), formErr, true},
		{"two OPT records", join(withCounts(1, 0, 0, 2), opt(0), opt(0)), formErr, true},
		{"an OPT owned by a name", join(withCounts(1, 0, 0, 1), labels("x"), opt(0)), formErr, true},
		{"an OPT whose option runs past its RDATA",
			join(withCounts(1, 0, 0, 1), []byte{0}, u16(typeOPT), u16(1232), u32(0), u16(4), u16(10), u16(1)), formErr, true},
		{"a record in the additional section past the end",
			join(withCounts(1, 0, 0, 1), []byte{0}, u16(typeTXT), u16(classIN), u32(0), u16(5), []byte("ab")), formErr, true},
		{"opcode NOTIFY: NOTIMP", join(header(0xABCD, 4<<11, 1, 0, 0, 0), good[headerLen:]),
			header(0xABCD, flagQR|4<<11|rcodeNotImp, 0, 0, 0, 0), true},
		{"opcode UPDATE, RD set: NOTIMP with RD", join(header(0xABCD, 5<<11|flagRD, 1, 0, 0, 0), good[headerLen:]),
			header(0xABCD, flagQR|5<<11|flagRD|rcodeNotImp, 0, 0, 0, 0), true},
	}
	z := exampleZone(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := z.respond(tc.query, nil)
			if (got != nil) != tc.wantAnswer {
				t.Fatalf("response %x, want one: %v", got, tc.wantAnswer)
			}
			checkBytes(t, got, tc.want)
		})
	}
}

// TestANameOf255BytesIsAQuery: 255 bytes is the longest name (RFC 1035
// §2.3.4), so it is answered (REFUSED, as it is not in the zone), not FORMERR.
func TestANameOf255BytesIsAQuery(t *testing.T) {
	name := strings.Repeat("abcdefg.", 31) + "x.y.z." // 248 + 6 + the root: 255 bytes
	if len(wireName(name)) != maxNameLen {
		t.Fatalf("the name takes %d bytes", len(wireName(name)))
	}
	query := testQuery{id: 3, name: name, qtype: typeA}
	checkBytes(t, exampleZone(t).respond(query.bytes(), nil),
		join(header(3, refusedFlags, 1, 0, 0, 0), wireName(name), u16(typeA), u16(classIN)))
}

// TestAnAdditionalRecordThatIsNotOPTIsSkipped: a query may carry records this
// server does not use (a TSIG, say); they are read past, not refused.
func TestAnAdditionalRecordThatIsNotOPTIsSkipped(t *testing.T) {
	query := testQuery{id: 5, name: "ns1.example.com.", qtype: typeA, udpSize: 1232}.bytes()
	put16(query[10:], 2)
	query = join(query, wireName("key."), u16(250), u16(255), u32(0), u16(3), []byte("abc"))
	m, err := decodeMessage(exampleZone(t).respond(query, nil))
	if err != nil || m.flags&rcodeMask != rcodeNoError || len(m.answer) != 1 || len(m.additional) != 1 {
		t.Fatalf("response %+v, %v: want one answer and the OPT", m, err)
	}
}

// TestEveryRecordOfTheZoneIsAnswered asks for each set of the example zone by
// its owner and type, and reads the records back from the response with the
// test decoder: each set comes back whole, its RDATA as the zone built it.
func TestEveryRecordOfTheZoneIsAnswered(t *testing.T) {
	z := exampleZone(t)
	asked := 0
	for _, n := range z.nodes {
		for i := range n.sets {
			set := &n.sets[i]
			if n.cut != nil {
				continue // glue and delegations are answered with referrals
			}
			var want []string
			for _, rr := range set.rrs {
				rdata, err := decodeRdata(rr, set.rrtype, rrFixedLen, len(rr))
				if err != nil {
					t.Fatalf("%s type %d: the zone's own RDATA: %v", nameString(n.name), set.rrtype, err)
				}
				want = append(want, fmt.Sprintf("%d %s", set.ttl(), rdata))
			}
			m, err := decodeMessage(z.respond(testQuery{id: 9, name: nameString(n.name), qtype: set.rrtype}.bytes(), nil))
			if err != nil {
				t.Fatalf("%s type %d: %v", nameString(n.name), set.rrtype, err)
			}
			var got []string
			for _, rr := range m.answer {
				if !strings.EqualFold(rr.name, nameString(n.name)) || rr.rrtype != set.rrtype {
					t.Fatalf("%s type %d: answered with %v", nameString(n.name), set.rrtype, rr)
				}
				got = append(got, fmt.Sprintf("%d %s", rr.ttl, rr.rdata))
			}
			// A name in RDATA may point at one in the question, so it is
			// compared without case.
			same := slices.Equal(got, want) || set.rrtype != typeTXT && strings.EqualFold(strings.Join(got, "\n"), strings.Join(want, "\n"))
			if !same || m.flags&flagAA == 0 {
				t.Fatalf("%s type %d: answer %q (flags %#x), want %q with AA", nameString(n.name), set.rrtype, got, m.flags, want)
			}
			asked++
		}
	}
	if asked < 15 {
		t.Fatalf("asked for %d sets; the example zone has more", asked)
	}
}
