package main

// A DNS response, written into a caller's buffer: the query's header and
// question, then whole RRsets section by section, then the header's counts and
// an OPT record.
//
// Choices:
//   - Every name is compressed, owner names and the names in NS, CNAME and SOA
//     RDATA (RFC 1035 §4.1.4; RFC 3597 §4 allows it for these types), against
//     the question name and every name written before it. The match ignores
//     case, so an owner equal to the question points at the question and keeps
//     the client's case (its 0x20 bits).
//   - A set goes in whole or not at all: one that takes the message past its
//     limit is taken out again, with the compression targets it added, and the
//     caller chooses between leaving it out and truncating.
//   - Nothing allocates while the caller's buffer has room: the compression
//     table is a fixed array in the response, which lives on the caller's stack.

// section numbers a response's sections of records, in the order they are
// written: every record of one goes before any of the next.
type section uint8

const (
	answerSection section = iota
	authoritySection
	additionalSection
)

// maxTargets bounds the compression table, and so the cost of compressing one
// name. A UDP response holds a few dozen labels; in a larger TCP one, a name
// that finds no target in the table is written whole, which costs bytes, never
// correctness.
const maxTargets = 64

// maxPointerTarget is the highest offset a compression pointer can hold (14 bits).
const maxPointerTarget = 0x3FFF

// response is a DNS response being written into a caller's buffer. Its zero
// value is not usable; begin starts one.
type response struct {
	msg []byte
	// limit is the most bytes msg may hold when its records are written. A set
	// that would take it past is taken out again, and the caller decides
	// between leaving it out and truncating.
	limit int
	// counts are the records written in each section.
	counts [3]uint16
	// targets are the offsets in msg of every label where a name written
	// uncompressed starts, in increasing order: what later names may point at.
	targets  [maxTargets]uint16
	nTargets int
}

// begin starts a response to q in out[:0]: q's header (its counts and flags
// rewritten by finish) and question, with the question name in the compression
// table.
func (r *response) begin(out, msg []byte, q *query, limit int) {
	r.msg = append(out[:0], msg[:q.questionEnd]...)
	r.limit = limit
	r.remember(headerLen, q.name)
}

// finish writes the header's flags and counts, and an OPT record advertising
// advertisedUDPSize when the query had one. A truncated response keeps its question only.
func (r *response) finish(q *query, flags uint16, rcode int, truncated bool) []byte {
	if truncated {
		r.msg = r.msg[:q.questionEnd]
		r.counts = [3]uint16{}
		flags |= flagTC
	}
	additional := r.counts[additionalSection]
	if q.edns {
		r.msg = append(r.msg, 0, byte(typeOPT>>8), byte(typeOPT), byte(advertisedUDPSize>>8), byte(advertisedUDPSize&0xFF),
			byte(rcode>>4), 0, 0, 0, 0, 0) // TTL: extended RCODE, VERSION 0, no DO; RDLENGTH 0
		additional++
	}
	flags |= flagQR | q.flags&(flagRD|flagCD) | uint16(rcode&rcodeMask)
	put16(r.msg[2:], flags)
	put16(r.msg[4:], 1)
	put16(r.msg[6:], r.counts[answerSection])
	put16(r.msg[8:], r.counts[authoritySection])
	put16(r.msg[10:], additional)
	return r.msg
}

// addSet writes every record of set, owned by owner, in sec. When that takes
// the message past its limit it takes them out again and returns false.
func (r *response) addSet(sec section, owner []byte, set *rrset) bool {
	mark, marked := len(r.msg), r.nTargets
	for _, rr := range set.rrs {
		r.appendRR(owner, set.rrtype, rr)
	}
	if len(r.msg) > r.limit {
		r.msg, r.nTargets = r.msg[:mark], marked
		return false
	}
	r.counts[sec] += uint16(len(set.rrs))
	return true
}

// appendRR writes one record: its owner, then rr (TYPE, CLASS, TTL, RDLENGTH
// and RDATA as the zone built them), with the names in NS, CNAME and SOA RDATA
// compressed and RDLENGTH counted again.
func (r *response) appendRR(owner []byte, rrtype uint16, rr []byte) {
	r.appendName(owner)
	rdata := rr[rrFixedLen:]
	switch rrtype {
	case typeNS, typeCNAME:
		lengthAt := r.appendFixed(rr)
		r.appendName(rdata)
		put16(r.msg[lengthAt:], uint16(len(r.msg)-lengthAt-2))
	case typeSOA:
		lengthAt := r.appendFixed(rr)
		mnameEnd := nameLen(rdata)
		rnameEnd := mnameEnd + nameLen(rdata[mnameEnd:])
		r.appendName(rdata[:mnameEnd])
		r.appendName(rdata[mnameEnd:rnameEnd])
		r.msg = append(r.msg, rdata[rnameEnd:]...)
		put16(r.msg[lengthAt:], uint16(len(r.msg)-lengthAt-2))
	default:
		r.msg = append(r.msg, rr...)
	}
}

// appendFixed writes rr's TYPE, CLASS and TTL and a RDLENGTH to fill in, and
// returns where that RDLENGTH is.
func (r *response) appendFixed(rr []byte) int {
	r.msg = append(r.msg, rr[:rrFixedLen]...)
	return len(r.msg) - 2
}

// appendName writes name (wire form, uncompressed), as a pointer to the longest
// of its suffixes already in the message, after the labels before it.
func (r *response) appendName(name []byte) {
	start := len(r.msg)
	for off := 0; name[off] != 0; off += int(name[off]) + 1 {
		if target, ok := r.find(name[off:]); ok {
			r.msg = append(r.msg, name[:off]...)
			r.msg = append(r.msg, byte(0xC0|target>>8), byte(target))
			r.remember(start, name[:off])
			return
		}
	}
	r.msg = append(r.msg, name...)
	r.remember(start, name)
}

// find returns the offset of a name in the message equal to name, ignoring
// ASCII case.
func (r *response) find(name []byte) (uint16, bool) {
	for _, target := range r.targets[:r.nTargets] {
		if sameNameAt(r.msg, int(target), name) {
			return target, true
		}
	}
	return 0, false
}

// remember adds to the compression table each label of labels (a name, or the
// labels of one before a pointer), written at msg[at:].
func (r *response) remember(at int, labels []byte) {
	for off := 0; off < len(labels) && labels[off] != 0; off += int(labels[off]) + 1 {
		if r.nTargets == maxTargets || at+off > maxPointerTarget {
			return
		}
		r.targets[r.nTargets] = uint16(at + off)
		r.nTargets++
	}
}

// sameNameAt reports whether the name at msg[off:], which this response wrote
// and which may end in a pointer, equals name, ignoring ASCII case. The
// response's pointers all point backwards, so the walk ends; the hop bound only
// guards against a bug.
func sameNameAt(msg []byte, off int, name []byte) bool {
	for hops := 0; hops < maxNameLen; hops++ {
		length := msg[off]
		if length >= 0xC0 {
			off = int(length&0x3F)<<8 | int(msg[off+1])
			continue
		}
		if length != name[0] {
			return false
		}
		if length == 0 {
			return true
		}
		if !equalFold(msg[off+1:off+1+int(length)], name[1:1+int(length)]) {
			return false
		}
		off += 1 + int(length)
		name = name[1+int(length):]
	}
	return false
}
