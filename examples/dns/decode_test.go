package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// A decoder for whole DNS messages, compression included, written for the
// tests: it reads back what respond builds, and its errors are what FuzzQuery
// calls a response that is not well-formed.

// decodedRR is one record of a decoded message, its RDATA in presentation form.
type decodedRR struct {
	name   string
	rrtype uint16
	class  uint16
	ttl    uint32
	rdata  string
}

func (rr decodedRR) String() string {
	return fmt.Sprintf("%s %d %d %d %s", rr.name, rr.ttl, rr.class, rr.rrtype, rr.rdata)
}

// decodedMsg is a decoded message.
type decodedMsg struct {
	id, flags      uint16
	qname          string // "" when the message has no question
	qtype, qclass  uint16
	answer, auth   []decodedRR
	additional     []decodedRR
	questionLength int // header and question, in bytes
}

// decodeMessage reads a whole message: at most one question, every record, and
// nothing after them. Pointers must point before themselves, at a name.
func decodeMessage(msg []byte) (decodedMsg, error) {
	var m decodedMsg
	if len(msg) < headerLen {
		return m, errors.New("shorter than a header")
	}
	m.id, m.flags = be16(msg), be16(msg[2:])
	counts := [4]int{int(be16(msg[4:])), int(be16(msg[6:])), int(be16(msg[8:])), int(be16(msg[10:]))}
	if counts[0] > 1 {
		return m, fmt.Errorf("%d questions", counts[0])
	}
	off := headerLen
	if counts[0] == 1 {
		name, end, err := decodeName(msg, off)
		if err != nil {
			return m, fmt.Errorf("question: %w", err)
		}
		if end+4 > len(msg) {
			return m, errors.New("question: truncated")
		}
		m.qname, m.qtype, m.qclass = name, be16(msg[end:]), be16(msg[end+2:])
		off = end + 4
	}
	m.questionLength = off
	for i, records := range []*[]decodedRR{&m.answer, &m.auth, &m.additional} {
		for range counts[i+1] {
			rr, end, err := decodeRR(msg, off)
			if err != nil {
				return m, fmt.Errorf("section %d record %d: %w", i+1, len(*records), err)
			}
			*records, off = append(*records, rr), end
		}
	}
	if off != len(msg) {
		return m, fmt.Errorf("%d bytes after the last record", len(msg)-off)
	}
	return m, nil
}

// decodeRR reads the record at msg[off:].
func decodeRR(msg []byte, off int) (decodedRR, int, error) {
	var rr decodedRR
	name, end, err := decodeName(msg, off)
	if err != nil {
		return rr, 0, fmt.Errorf("owner: %w", err)
	}
	if end+10 > len(msg) {
		return rr, 0, errors.New("truncated")
	}
	rr.name, rr.rrtype, rr.class = name, be16(msg[end:]), be16(msg[end+2:])
	rr.ttl = uint32(be16(msg[end+4:]))<<16 | uint32(be16(msg[end+6:]))
	start, length := end+10, int(be16(msg[end+8:]))
	if start+length > len(msg) {
		return rr, 0, errors.New("RDATA past the end")
	}
	rr.rdata, err = decodeRdata(msg, rr.rrtype, start, start+length)
	return rr, start + length, err
}

// decodeRdata writes the RDATA at msg[start:end] in presentation form; names in
// it may be compressed.
func decodeRdata(msg []byte, rrtype uint16, start, end int) (string, error) {
	rdata := msg[start:end]
	switch rrtype {
	case typeA, typeAAAA:
		addr, ok := netip.AddrFromSlice(rdata)
		if !ok || (rrtype == typeA) != (len(rdata) == 4) {
			return "", fmt.Errorf("address of %d bytes", len(rdata))
		}
		return addr.String(), nil
	case typeNS, typeCNAME:
		name, nameEnd, err := decodeName(msg[:end], start)
		if err == nil && nameEnd != end {
			err = errors.New("bytes after the name")
		}
		return name, err
	case typeSOA:
		mname, off, err := decodeName(msg[:end], start)
		if err != nil {
			return "", err
		}
		rname, off, err := decodeName(msg[:end], off)
		if err != nil || end-off != 20 {
			return "", fmt.Errorf("SOA: %v, %d bytes of numbers", err, end-off)
		}
		numbers := msg[off:end]
		return fmt.Sprintf("%s %s %d %d %d %d %d", mname, rname, be32(numbers), be32(numbers[4:]),
			be32(numbers[8:]), be32(numbers[12:]), be32(numbers[16:])), nil
	case typeTXT:
		var strs []string
		for len(rdata) > 0 {
			if 1+int(rdata[0]) > len(rdata) {
				return "", errors.New("TXT string past the end")
			}
			strs = append(strs, fmt.Sprintf("%q", rdata[1:1+int(rdata[0])]))
			rdata = rdata[1+int(rdata[0]):]
		}
		return strings.Join(strs, " "), nil
	}
	return fmt.Sprintf("\\# %d %x", len(rdata), rdata), nil
}

// decodeName reads the name at msg[off:] in presentation form (labels as Go
// quotes them when they hold odd bytes), and returns where it ends in place.
func decodeName(msg []byte, off int) (string, int, error) {
	var b strings.Builder
	end, wireLen := -1, 0
	for {
		if off >= len(msg) {
			return "", 0, errors.New("name past the end")
		}
		length := int(msg[off])
		switch {
		case length >= 0xC0:
			if off+1 >= len(msg) {
				return "", 0, errors.New("pointer past the end")
			}
			target := (length&0x3F)<<8 | int(msg[off+1])
			if target >= off {
				return "", 0, fmt.Errorf("pointer at %d to %d, not backwards", off, target)
			}
			if end < 0 {
				end = off + 2
			}
			off = target
			continue
		case length > maxLabelLen:
			return "", 0, fmt.Errorf("label type %#x", length)
		case length == 0:
			if end < 0 {
				end = off + 1
			}
			if b.Len() == 0 {
				return ".", end, nil
			}
			return b.String(), end, nil
		}
		wireLen += 1 + length
		if wireLen >= maxNameLen || off+1+length > len(msg) {
			return "", 0, errors.New("name too long, or past the end")
		}
		label := string(msg[off+1 : off+1+length])
		if strings.ContainsAny(label, ". \"\\") || strings.ContainsFunc(label, func(r rune) bool { return r < ' ' || r > '~' }) {
			label = fmt.Sprintf("%q", label)
		}
		b.WriteString(label + ".")
		off += 1 + length
	}
}

func be32(b []byte) uint32 { return uint32(be16(b))<<16 | uint32(be16(b[2:])) }
