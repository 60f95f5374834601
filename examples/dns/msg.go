package main

// The DNS wire format (RFC 1035 §4, EDNS0 from RFC 6891): its numbers,
// parseQuery, which reads a query, and the name helpers both directions use.
// response.go writes the answer.
//
// Choices:
//   - A query is read strictly, as NSD reads one: one question, nothing in the
//     answer and authority sections, no bytes after the last record, at most one
//     OPT record. Compression pointers are refused anywhere in a query (a client
//     has no name earlier in the message to point at), so reading a query never
//     follows a pointer and cannot loop.
//   - Reading allocates nothing: a query's name points into the message.

// Record types, classes and other numbers of the IANA DNS parameters registry
// that this server uses.
const (
	typeA     uint16 = 1
	typeNS    uint16 = 2
	typeCNAME uint16 = 5
	typeSOA   uint16 = 6
	typeTXT   uint16 = 16
	typeAAAA  uint16 = 28
	typeOPT   uint16 = 41
	typeDS    uint16 = 43
	typeIXFR  uint16 = 251
	typeAXFR  uint16 = 252
	typeANY   uint16 = 255

	classIN uint16 = 1
)

// Response codes (RFC 1035 §4.1.1, RFC 6891 §9 for BADVERS).
const (
	rcodeNoError  = 0
	rcodeFormErr  = 1
	rcodeNXDomain = 3
	rcodeNotImp   = 4
	rcodeRefused  = 5
	// rcodeBadVers is an extended RCODE: its upper 8 bits go in the OPT record's
	// TTL, its lower 4 (zero) in the header.
	rcodeBadVers = 16
)

// The header's second 16-bit word, bit by bit (RFC 1035 §4.1.1, RFC 4035 §3.2
// for AD and CD):
//
//	15 14-11  10  9  8  7  6  5  4  3-0
//	QR OPCODE AA TC RD RA  Z AD CD RCODE
const (
	flagQR      = 1 << 15
	opcodeMask  = 0xF << 11 // QUERY is 0, so a query's opcode bits are all clear
	flagAA      = 1 << 10
	flagTC      = 1 << 9
	flagRD      = 1 << 8
	flagCD      = 1 << 4
	rcodeMask   = 0xF
	headerLen   = 12
	maxNameLen  = 255 // the most bytes a name takes on the wire (RFC 1035 §2.3.4)
	maxLabelLen = 63  // the most bytes one label holds (RFC 1035 §2.3.4)
)

// optLen is the size of the OPT record a response carries: a root owner (1), and
// TYPE, CLASS, TTL and RDLENGTH (10), with no options.
const optLen = 11

// queryStatus is what parseQuery made of a message.
type queryStatus uint8

const (
	// queryOK: a well-formed query; every field of the query is set.
	queryOK queryStatus = iota
	// queryDrop: not worth an answer. Shorter than a header, or a response (QR
	// set): NSD and BIND drop responses too, since answering them lets two
	// servers bounce packets between themselves for ever.
	queryDrop
	// queryFormErr: the header is readable, the rest is not a well-formed
	// query. The id and flags of the query are set.
	queryFormErr
	// queryNotImp: an opcode other than QUERY (NOTIFY, UPDATE, ...), answered
	// with NOTIMP as NSD and BIND answer one. The id and flags are set.
	queryNotImp
)

// query is a parsed query. Its name points into the message it was parsed from.
type query struct {
	id    uint16
	flags uint16
	// name is the question name as sent, in wire form: uncompressed labels
	// ending with the root label, at most maxNameLen bytes.
	name          []byte
	qtype, qclass uint16
	// questionEnd is where the question ends in the message: a response repeats
	// the message's bytes up to here, header and question.
	questionEnd int
	// edns: the query had an OPT record, whose CLASS (the client's UDP payload
	// size) and VERSION are udpSize and ednsVersion.
	edns        bool
	udpSize     uint16
	ednsVersion uint8
}

// parseQuery reads a query message. It never panics and never reads past msg.
func parseQuery(msg []byte) (q query, status queryStatus) {
	if len(msg) < headerLen {
		return q, queryDrop
	}
	q.id, q.flags = be16(msg[0:]), be16(msg[2:])
	if q.flags&flagQR != 0 {
		return q, queryDrop
	}
	if q.flags&opcodeMask != 0 {
		return q, queryNotImp
	}
	qdCount, anCount, nsCount, arCount := be16(msg[4:]), be16(msg[6:]), be16(msg[8:]), be16(msg[10:])
	if qdCount != 1 || anCount != 0 || nsCount != 0 {
		return q, queryFormErr
	}
	nameEnd, ok := skipQueryName(msg, headerLen)
	if !ok || nameEnd+4 > len(msg) {
		return q, queryFormErr
	}
	q.name = msg[headerLen:nameEnd]
	q.qtype, q.qclass = be16(msg[nameEnd:]), be16(msg[nameEnd+2:])
	q.questionEnd = nameEnd + 4
	off := q.questionEnd
	for range arCount {
		if off, ok = q.readAdditional(msg, off); !ok {
			return q, queryFormErr
		}
	}
	if off != len(msg) {
		return q, queryFormErr
	}
	return q, queryOK
}

// readAdditional reads the record at msg[off:] in the additional section and
// returns where it ends. An OPT record sets the query's EDNS fields; a second
// one, an OPT not owned by the root, or options that do not fill its RDATA
// exactly make the query malformed (RFC 6891 §6.1.1). Other records (a TSIG
// this server cannot check) are skipped.
func (q *query) readAdditional(msg []byte, off int) (int, bool) {
	nameEnd, ok := skipQueryName(msg, off)
	if !ok || nameEnd+10 > len(msg) {
		return 0, false
	}
	rrtype, rdlen := be16(msg[nameEnd:]), int(be16(msg[nameEnd+8:]))
	rdata := nameEnd + 10
	if rdata+rdlen > len(msg) {
		return 0, false
	}
	if rrtype == typeOPT {
		if q.edns || nameEnd != off+1 || !wellFormedOptions(msg[rdata:rdata+rdlen]) {
			return 0, false
		}
		q.edns = true
		q.udpSize = be16(msg[nameEnd+2:])
		q.ednsVersion = msg[nameEnd+5] // TTL: extended RCODE, VERSION, DO and Z
	}
	return rdata + rdlen, true
}

// wellFormedOptions reports whether an OPT record's RDATA is a sequence of
// options (code, length, data) that ends exactly at its end.
func wellFormedOptions(rdata []byte) bool {
	for len(rdata) > 0 {
		if len(rdata) < 4 || 4+int(be16(rdata[2:])) > len(rdata) {
			return false
		}
		rdata = rdata[4+int(be16(rdata[2:])):]
	}
	return true
}

// skipQueryName returns where the name at msg[off:] ends. It refuses what a
// query has no use for: compression pointers and the extended label types (top
// bits 01 and 10, RFC 6891 §5), a name longer than maxNameLen, and a name that
// runs past the message.
func skipQueryName(msg []byte, off int) (int, bool) {
	start := off
	for off < len(msg) {
		length := int(msg[off])
		switch {
		case length == 0:
			return off + 1, true
		case length > maxLabelLen:
			return 0, false
		}
		off += 1 + length
		if off-start >= maxNameLen { // no room left for the root label
			return 0, false
		}
	}
	return 0, false
}

// appendHeaderOnly appends a response that is a header alone, with no records
// and no question (as NSD sends a FORMERR): the query's id, its opcode and RD
// bit, and rcode.
func appendHeaderOnly(out []byte, q *query, rcode int) []byte {
	flags := flagQR | q.flags&(opcodeMask|flagRD) | uint16(rcode)
	return append(out, byte(q.id>>8), byte(q.id), byte(flags>>8), byte(flags), 0, 0, 0, 0, 0, 0, 0, 0)
}

// nameLen returns the length of the uncompressed, well-formed name that starts
// name.
func nameLen(name []byte) int {
	off := 0
	for name[off] != 0 {
		off += int(name[off]) + 1
	}
	return off + 1
}

// lowerName appends name to dst with ASCII letters in lower case: DNS names
// compare case-insensitively in ASCII only (RFC 4343).
func lowerName(dst, name []byte) []byte {
	for _, c := range name {
		dst = append(dst, lower(c))
	}
	return dst
}

// equalFold reports whether a and b are equal but for ASCII case.
func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func put16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }
