package proxyproto

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// A version 1 header is one line of text:
//
//	PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n
//	PROXY TCP6 2001:db8::1 2001:db8::7 51234 443\r\n
//	PROXY UNKNOWN<anything up to the CRLF>\r\n
//
// Fields are separated by exactly one space. The addresses are the source's
// then the destination's, of the family the protocol names, then the two ports
// in decimal.

// v1Signature begins every version 1 header.
const v1Signature = "PROXY"

// v1MaxLen is the longest version 1 line, CRLF included: the spec's worst case,
// "PROXY UNKNOWN" followed by two full-length IPv6 addresses and two 5-digit
// ports, each after one space.
const v1MaxLen = 107

// The fields of a TCP4 or TCP6 line, in order.
const (
	v1FieldSignature = iota
	v1FieldProtocol
	v1FieldSourceAddr
	v1FieldDestAddr
	v1FieldSourcePort
	v1FieldDestPort
	v1FieldCount
)

// v1Protocols are the words the second field may hold, and the network each
// names; UNKNOWN names none.
var v1Protocols = [...]struct{ word, network string }{
	{"TCP4", "tcp4"},
	{"TCP6", "tcp6"},
	{"UNKNOWN", ""},
}

// v1AddrChars is, per network, the bytes an address of it may be written with
// and its longest text: 15 for "255.255.255.255"; 45 for an IPv6 address whose
// last 32 bits are written as IPv4, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
var v1AddrChars = map[string]struct {
	chars  string
	maxLen int
}{
	"tcp4": {"0123456789.", 15},
	"tcp6": {"0123456789abcdefABCDEF:.", 45},
}

var crlf = []byte("\r\n")

// parseV1 parses a version 1 header at the start of b, which starts with 'P'.
func parseV1(b []byte) (Header, int, error) {
	end := bytes.Index(b[:min(len(b), v1MaxLen)], crlf)
	if end >= 0 {
		h, err := scanV1(b[:end], true)
		if err != nil {
			return Header{}, 0, err
		}
		return h, end + len(crlf), nil
	}
	// No CRLF yet. A last byte '\r' may be the first half of it.
	start := bytes.TrimSuffix(b, crlf[:1])
	if _, err := scanV1(start, false); err != nil {
		return Header{}, 0, err
	}
	if len(b) >= v1MaxLen {
		return Header{}, 0, invalid("v1: no CRLF in the first %d bytes", v1MaxLen)
	}
	return Header{}, 0, ErrIncomplete
}

// scanV1 checks the fields of a version 1 line without its CRLF, and returns
// what they say. With whole false, line is only the start of a line: its last
// field may be cut short, so it is checked only as the start of a field, and
// fields not there yet are no error.
func scanV1(line []byte, whole bool) (Header, error) {
	h := Header{Version: 1}
	var addrs [2]netip.Addr
	var ports [2]uint16
	for i := range v1FieldCount {
		field, rest, more := bytes.Cut(line, []byte{' '})
		if !whole && !more {
			return Header{}, checkV1FieldStart(i, field, h.Network)
		}
		var err error
		switch i {
		case v1FieldSignature:
			if string(field) != v1Signature {
				err = invalid("v1: line starts with %q, not %q", field, v1Signature)
			}
		case v1FieldProtocol:
			if h.Network, h.Local, err = parseV1Protocol(field); h.Local {
				// The spec asks the receiver to ignore whatever follows
				// UNKNOWN up to the CRLF.
				return h, nil
			}
		case v1FieldSourceAddr, v1FieldDestAddr:
			addrs[i-v1FieldSourceAddr], err = parseV1Addr(field, h.Network)
		case v1FieldSourcePort, v1FieldDestPort:
			ports[i-v1FieldSourcePort], err = parseV1Port(field)
		}
		switch {
		case err != nil:
			return Header{}, err
		case !more && i < v1FieldCount-1:
			return Header{}, invalid("v1: line ends after %d of its %d fields", i+1, v1FieldCount)
		case more && i == v1FieldCount-1:
			return Header{}, invalid("v1: line has more than %d fields", v1FieldCount)
		}
		line = rest
	}
	h.Source = netip.AddrPortFrom(addrs[0], ports[0])
	h.Dest = netip.AddrPortFrom(addrs[1], ports[1])
	return h, nil
}

// checkV1FieldStart checks that field, field i of a line cut short, could
// still grow into a valid field i. For an address it checks only the bytes used
// and the length, not where the dots and colons fall.
func checkV1FieldStart(i int, field []byte, network string) error {
	switch i {
	case v1FieldSignature:
		if !bytes.HasPrefix([]byte(v1Signature), field) {
			return invalid("v1: line starts with %q, not %q", field, v1Signature)
		}
	case v1FieldProtocol:
		for _, p := range v1Protocols {
			if bytes.HasPrefix([]byte(p.word), field) {
				return nil
			}
		}
		return invalid("v1: protocol %q is none of TCP4, TCP6, UNKNOWN", field)
	case v1FieldSourceAddr, v1FieldDestAddr:
		allowed := v1AddrChars[network]
		foreign := func(r rune) bool { return !strings.ContainsRune(allowed.chars, r) }
		if len(field) > allowed.maxLen || bytes.ContainsFunc(field, foreign) {
			return invalid("v1: %q cannot start a %s address", field, network)
		}
	case v1FieldSourcePort, v1FieldDestPort:
		// Every start of a valid port is itself a valid port.
		if len(field) > 0 {
			_, err := parseV1Port(field)
			return err
		}
	}
	return nil
}

// parseV1Protocol reads the protocol field: the network it names, or local for
// UNKNOWN.
func parseV1Protocol(field []byte) (network string, local bool, err error) {
	for _, p := range v1Protocols {
		if string(field) == p.word {
			return p.network, p.network == "", nil
		}
	}
	return "", false, invalid("v1: protocol %q is none of TCP4, TCP6, UNKNOWN", field)
}

// parseV1Addr reads an address of network's family, in its usual text form: no
// leading zeros in IPv4, no zone in IPv6.
func parseV1Addr(field []byte, network string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(string(field))
	switch {
	case err != nil:
		return netip.Addr{}, invalid("v1: address %q: %v", field, err)
	case !addrFits(network, addr):
		return netip.Addr{}, invalid("v1: address %q is not a %s address without zone", field, network)
	}
	return addr, nil
}

// parseV1Port reads a port: 1 to 5 decimal digits, no leading zero (but "0"),
// at most 65535.
func parseV1Port(field []byte) (uint16, error) {
	if len(field) == 0 || len(field) > len("65535") || len(field) > 1 && field[0] == '0' {
		return 0, invalid("v1: port %q", field)
	}
	port := 0
	for _, c := range field {
		if c < '0' || c > '9' {
			return 0, invalid("v1: port %q", field)
		}
		port = port*10 + int(c-'0')
	}
	if port > 65535 {
		return 0, invalid("v1: port %q over 65535", field)
	}
	return uint16(port), nil
}

// AppendV1 appends h as a version 1 header to dst and returns the result. A
// Local h is written as "PROXY UNKNOWN\r\n"; otherwise h.Network must be "tcp4"
// or "tcp6", with Source and Dest of that family (without zones). A header
// version 1 cannot carry returns dst unchanged and an error wrapping ErrInvalid.
func AppendV1(dst []byte, h Header) ([]byte, error) {
	if h.Local {
		return append(dst, "PROXY UNKNOWN\r\n"...), nil
	}
	var word string
	for _, p := range v1Protocols {
		if p.network != "" && p.network == h.Network {
			word = p.word
		}
	}
	if word == "" {
		return dst, invalid("v1 carries TCP over IPv4 or IPv6, not network %q", h.Network)
	}
	if !addrFits(h.Network, h.Source.Addr()) || !addrFits(h.Network, h.Dest.Addr()) {
		return dst, invalid("v1: %v and %v are not both %s addresses without zone", h.Source, h.Dest, h.Network)
	}
	dst = append(dst, v1Signature+" "+word+" "...)
	dst = h.Source.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = h.Dest.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Source.Port()), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Dest.Port()), 10)
	return append(dst, crlf...), nil
}
