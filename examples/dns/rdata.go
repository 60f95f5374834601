package main

// The fields of a master-file record in their presentation form, read into
// wire form: names, TTLs, and the RDATA of the types this server serves.
//
// Choices:
//   - Types: SOA, NS, A, AAAA, TXT and CNAME. Any other (MX, SRV, TYPE65 and
//     RFC 3597's \# form alike) is refused by name, so a zone never loads with
//     records silently missing.
//   - A takes dotted-quad IPv4 only, AAAA any IPv6 text form without a zone
//     ("%eth0"), as net/netip parses them.
//   - TXT takes one or more strings, quoted or not, each at most 255 bytes
//     (one character-string, RFC 1035 §3.3); RDATA is at most 65535 bytes.
//   - Names keep the case they are written in (an answer gives them as the
//     file does); a label is at most 63 bytes, a name 255 in wire form.

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// maxTTL is the largest TTL: RFC 2181 §8 makes the top bit of the 32 zero.
const maxTTL = 1<<31 - 1

// rrtype returns the type t names.
func (p *zoneReader) rrtype(t token) (uint16, error) {
	for _, known := range [...]struct {
		name   string
		rrtype uint16
	}{{"A", typeA}, {"NS", typeNS}, {"CNAME", typeCNAME}, {"SOA", typeSOA}, {"TXT", typeTXT}, {"AAAA", typeAAAA}} {
		if strings.EqualFold(t.text, known.name) {
			return known.rrtype, nil
		}
	}
	return 0, p.errorAt(t.line, "record type %s: %w (SOA, NS, A, AAAA, TXT and CNAME are)", t.text, errUnsupported)
}

// rdata reads the RDATA of a record of type rrtype from args; typ is the type's
// own field, for errors about missing RDATA.
func (p *zoneReader) rdata(rrtype uint16, typ token, args []token) ([]byte, error) {
	switch rrtype {
	case typeSOA:
		if len(args) != 7 {
			return nil, p.errorAt(typ.line, "SOA takes 7 fields (MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM), not %d", len(args))
		}
		return p.soa(args)
	case typeTXT:
		if len(args) == 0 {
			return nil, p.errorAt(typ.line, "TXT takes at least one string")
		}
		return p.txt(args)
	}
	if len(args) != 1 {
		return nil, p.errorAt(typ.line, "%s takes one field, not %d", strings.ToUpper(typ.text), len(args))
	}
	if rrtype == typeA || rrtype == typeAAAA {
		return p.address(rrtype, args[0])
	}
	return p.name(args[0]) // NS, CNAME
}

// address reads the RDATA of an A or AAAA record.
func (p *zoneReader) address(rrtype uint16, t token) ([]byte, error) {
	addr, err := netip.ParseAddr(t.text)
	switch {
	case err != nil || t.quoted:
	case rrtype == typeA && addr.Is4():
		v4 := addr.As4()
		return v4[:], nil
	case rrtype == typeAAAA && addr.Is6() && addr.Zone() == "":
		v6 := addr.As16()
		return v6[:], nil
	}
	kind := "an IPv4"
	if rrtype == typeAAAA {
		kind = "an IPv6"
	}
	return nil, p.errorAt(t.line, "%q is not %s address", t.text, kind)
}

// soa reads the RDATA of an SOA record: two names, then the serial and four
// times, which take TTL units.
func (p *zoneReader) soa(args []token) ([]byte, error) {
	var rdata []byte
	for _, t := range args[:2] {
		name, err := p.name(t)
		if err != nil {
			return nil, err
		}
		rdata = append(rdata, name...)
	}
	serial, err := strconv.ParseUint(args[2].text, 10, 32)
	if err != nil || args[2].quoted {
		return nil, p.errorAt(args[2].line, "SOA serial %q is not a number from 0 to 4294967295", args[2].text)
	}
	rdata = append(rdata, byte(serial>>24), byte(serial>>16), byte(serial>>8), byte(serial))
	for _, t := range args[3:] {
		v, err := p.ttl(t)
		if err != nil {
			return nil, err
		}
		rdata = append(rdata, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return rdata, nil
}

// txt reads the RDATA of a TXT record: each field one character-string.
func (p *zoneReader) txt(args []token) ([]byte, error) {
	var rdata []byte
	for _, t := range args {
		s, err := unescape(t.text)
		if err == nil && len(s) > 255 {
			err = errors.New("longer than 255 bytes")
		}
		if err != nil {
			return nil, p.errorAt(t.line, "TXT string %q: %v", t.text, err)
		}
		rdata = append(rdata, byte(len(s)))
		rdata = append(rdata, s...)
	}
	if len(rdata) > 0xFFFF {
		return nil, p.errorAt(args[0].line, "TXT RDATA of %d bytes, over the 65535 a record holds", len(rdata))
	}
	return rdata, nil
}

// ttl reads a TTL field.
func (p *zoneReader) ttl(t token) (uint32, error) {
	ttl, ok := parseTTL(t.text)
	if !ok || t.quoted {
		return 0, p.errorAt(t.line, "TTL %q is not a number of seconds up to %d (units w, d, h, m, s allowed)", t.text, maxTTL)
	}
	return ttl, nil
}

// parseTTL reads a TTL: a number of seconds, or numbers each followed by a unit
// (w, d, h, m or s, as BIND writes "1h30m"), with at most a number of seconds
// after the last unit.
func parseTTL(text string) (uint32, bool) {
	var total, number uint64
	digits := 0
	for i := 0; i < len(text); i++ {
		if c := text[i]; isDigit(c) {
			number = number*10 + uint64(c-'0')
			digits++
		} else {
			unit := unitSeconds(c)
			if unit == 0 || digits == 0 {
				return 0, false
			}
			total, number, digits = total+number*unit, 0, 0
		}
		// Both stay under 2^31, so number*unit and the sum stay far under 2^64.
		if number > maxTTL || total > maxTTL {
			return 0, false
		}
	}
	total += number
	return uint32(total), text != "" && total <= maxTTL
}

// unitSeconds returns the seconds in a TTL unit, or 0 if c is not one.
func unitSeconds(c byte) uint64 {
	switch lower(c) {
	case 's':
		return 1
	case 'm':
		return 60
	case 'h':
		return 3600
	case 'd':
		return 86400
	case 'w':
		return 7 * 86400
	}
	return 0
}

// name reads a domain name in wire form: "@" is the origin, a name without a
// final "." is under it.
func (p *zoneReader) name(t token) ([]byte, error) {
	if t.quoted {
		return nil, p.errorAt(t.line, "a name, %q, in quotes", t.text)
	}
	if t.text == "@" {
		if p.origin == nil {
			return nil, p.errorAt(t.line, "\"@\" with no $ORIGIN before it")
		}
		return p.origin, nil
	}
	wire, absolute, err := nameToWire(t.text)
	if err == nil && !absolute {
		if p.origin == nil {
			return nil, p.errorAt(t.line, "relative name %q with no $ORIGIN before it", t.text)
		}
		wire = append(wire, p.origin...)
	}
	if err == nil && len(wire) > maxNameLen {
		err = errors.New("longer than 255 bytes")
	}
	if err != nil {
		return nil, p.errorAt(t.line, "name %q: %v", t.text, err)
	}
	return wire, nil
}

// nameToWire reads a name's presentation form into wire form: a relative one
// without its final root label.
func nameToWire(text string) (wire []byte, absolute bool, err error) {
	if text == "." {
		return []byte{0}, true, nil
	}
	label := make([]byte, 0, maxLabelLen)
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '.':
			if len(label) == 0 {
				return nil, false, errors.New("an empty label")
			}
			wire = append(append(wire, byte(len(label))), label...)
			label = label[:0]
			continue
		case c == '\\':
			if c, i, err = unescapeAt(text, i); err != nil {
				return nil, false, err
			}
		}
		if len(label) == maxLabelLen {
			return nil, false, errors.New("a label longer than 63 bytes")
		}
		label = append(label, c)
	}
	if len(label) == 0 {
		return append(wire, 0), true, nil
	}
	return append(append(wire, byte(len(label))), label...), false, nil
}

// unescape returns s with its escapes read.
func unescape(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			var err error
			if c, i, err = unescapeAt(s, i); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// unescapeAt reads the escape that starts at s[i] ("\X" or "\DDD") and returns
// its byte and the index of its last character.
func unescapeAt(s string, i int) (byte, int, error) {
	if i+1 >= len(s) {
		return 0, i, errors.New("a \"\\\" at the end")
	}
	if !isDigit(s[i+1]) {
		return s[i+1], i + 1, nil
	}
	if i+3 >= len(s) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
		return 0, i, errors.New("a \"\\DDD\" escape without three digits")
	}
	v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
	if v > 255 {
		return 0, i, errors.New("a \"\\DDD\" escape over 255")
	}
	return byte(v), i + 3, nil
}

// nameString writes a wire-form name in presentation form, for errors and
// tests.
func nameString(wire []byte) string {
	if len(wire) == 0 || wire[0] == 0 {
		return "."
	}
	var b strings.Builder
	for off := 0; off < len(wire) && wire[off] != 0; off += int(wire[off]) + 1 {
		for _, c := range wire[off+1 : min(off+1+int(wire[off]), len(wire))] {
			switch {
			case c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' || c == '$':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c <= ' ' || c >= 0x7F:
				b.WriteString("\\" + strconv.Itoa(int(c)/100) + strconv.Itoa(int(c)/10%10) + strconv.Itoa(int(c)%10))
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('.')
	}
	return b.String()
}
