package proxyproto

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
)

// A version 2 header is binary: a 16-byte fixed part, then as many bytes as its
// length field says, which hold an address block and then TLVs.
//
//	bytes 0-11   the signature, v2Signature
//	byte  12     version in the high nibble (always 2), command in the low one
//	byte  13     address family in the high nibble, transport in the low one
//	bytes 14-15  the length of the rest of the header, big-endian
//
// The address block of a PROXY command depends on byte 13 (see v2Networks). Each
// TLV is a type byte, a big-endian 16-bit length and that many bytes of value.

// v2Signature begins every version 2 header. It starts with CRLF CRLF and a
// NUL, which no text protocol can start with.
const v2Signature = "\r\n\r\n\x00\r\nQUIT\n"

// Offsets and sizes in the fixed part.
const (
	v2VersionCommand  = 12
	v2FamilyTransport = 13
	v2Length          = 14
	v2FixedLen        = 16
)

// The version and commands of byte 12.
const (
	v2Version      = 0x2
	v2CommandLocal = 0x0
	v2CommandProxy = 0x1
)

// v2Unspec in byte 13 is the UNSPEC family over the UNSPEC transport: the
// sender does not know or say the addresses.
const v2Unspec = 0x00

// unixPathLen is the size of sun_path in a sockaddr_un, as the spec sends it.
const unixPathLen = 108

// v2Networks holds every value of byte 13 that a PROXY command may carry but
// v2Unspec; the spec asks a receiver to refuse the rest. addrLen is the size of
// the address block: source and destination address, then source and
// destination port (2 bytes each) for IP; two sun_paths for AF_UNIX.
var v2Networks = [...]struct {
	familyTransport byte
	network         string
	addrLen         int
}{
	{0x11, "tcp4", 4 + 4 + 2 + 2},       // INET, STREAM
	{0x12, "udp4", 4 + 4 + 2 + 2},       // INET, DGRAM
	{0x21, "tcp6", 16 + 16 + 2 + 2},     // INET6, STREAM
	{0x22, "udp6", 16 + 16 + 2 + 2},     // INET6, DGRAM
	{0x31, "unix", 2 * unixPathLen},     // UNIX, STREAM
	{0x32, "unixgram", 2 * unixPathLen}, // UNIX, DGRAM
}

// v2NetworkOfByte returns the index in v2Networks of familyTransport, or -1.
func v2NetworkOfByte(familyTransport byte) int {
	for i, n := range v2Networks {
		if n.familyTransport == familyTransport {
			return i
		}
	}
	return -1
}

// v2NetworkOfName returns the index in v2Networks of network, or -1.
func v2NetworkOfName(network string) int {
	for i, n := range v2Networks {
		if n.network == network {
			return i
		}
	}
	return -1
}

// parseV2 parses a version 2 header at the start of b, which starts with the
// first byte of v2Signature.
func parseV2(b []byte) (Header, int, error) {
	if err := checkV2Fixed(b[:min(len(b), v2FixedLen)]); err != nil {
		return Header{}, 0, err
	}
	if len(b) < v2FixedLen {
		return Header{}, 0, ErrIncomplete
	}
	n := v2FixedLen + int(binary.BigEndian.Uint16(b[v2Length:]))
	if len(b) < n {
		return Header{}, 0, ErrIncomplete
	}
	h, err := parseV2Body(b[v2VersionCommand], b[v2FamilyTransport], b[v2FixedLen:n])
	if err != nil {
		return Header{}, 0, err
	}
	return h, n, nil
}

// checkV2Fixed checks fixed, the fixed part of a header or as much of its start
// as has come: the signature, version, command, family and transport, and that
// the length is at most what MaxLen leaves and at least what the address block
// needs.
func checkV2Fixed(fixed []byte) error {
	sig := fixed[:min(len(fixed), len(v2Signature))]
	if !bytes.HasPrefix([]byte(v2Signature), sig) {
		return invalid("v2: signature")
	}
	if len(fixed) <= v2VersionCommand {
		return nil
	}
	version, command := fixed[v2VersionCommand]>>4, fixed[v2VersionCommand]&0xf
	switch {
	case version != v2Version:
		return invalid("v2: version %d", version)
	case command != v2CommandLocal && command != v2CommandProxy:
		return invalid("v2: command %#x is neither LOCAL nor PROXY", command)
	}
	// The spec asks a receiver of LOCAL to ignore the family and addresses.
	addrLen := 0
	if len(fixed) > v2FamilyTransport && command == v2CommandProxy && fixed[v2FamilyTransport] != v2Unspec {
		i := v2NetworkOfByte(fixed[v2FamilyTransport])
		if i < 0 {
			return invalid("v2: family and transport %#02x", fixed[v2FamilyTransport])
		}
		addrLen = v2Networks[i].addrLen
	}
	if len(fixed) < v2FixedLen {
		return nil
	}
	switch length := int(binary.BigEndian.Uint16(fixed[v2Length:])); {
	case length > MaxLen-v2FixedLen:
		return invalid("v2: length %d over the %d this package accepts", length, MaxLen-v2FixedLen)
	case length < addrLen:
		return invalid("v2: length %d short of the %d-byte address block", length, addrLen)
	}
	return nil
}

// parseV2Body reads body, the header after its fixed part, whose bytes 12 and
// 13 were versionCommand and familyTransport, both already checked.
func parseV2Body(versionCommand, familyTransport byte, body []byte) (Header, error) {
	h := Header{Version: 2}
	if versionCommand&0xf == v2CommandLocal || familyTransport == v2Unspec {
		// Without a family the address block has no known size, so the TLVs
		// cannot be found: the whole body is skipped.
		h.Local = true
		return h, nil
	}
	network := v2Networks[v2NetworkOfByte(familyTransport)]
	addrs, tlvs := body[:network.addrLen], body[network.addrLen:]
	if err := checkTLVs(tlvs); err != nil {
		return Header{}, err
	}
	h.Network = network.network
	switch network.network {
	case "unix", "unixgram":
		h.SourceUnix = unixPath(addrs[:unixPathLen])
		h.DestUnix = unixPath(addrs[unixPathLen:])
	default:
		// Two addresses of addrSize bytes, then two 2-byte ports.
		addrSize := (network.addrLen - 2*2) / 2
		src, _ := netip.AddrFromSlice(addrs[:addrSize])
		dst, _ := netip.AddrFromSlice(addrs[addrSize : 2*addrSize])
		ports := addrs[2*addrSize:]
		h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports))
		h.Dest = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:]))
	}
	return h, nil
}

// checkTLVs checks that tlvs is a whole number of TLVs, none running past its
// end. Their types and values are not looked at.
func checkTLVs(tlvs []byte) error {
	const tlvHeaderLen = 3 // type, 16-bit length
	for len(tlvs) > 0 {
		if len(tlvs) < tlvHeaderLen {
			return invalid("v2: %d bytes after the last TLV, too few for another", len(tlvs))
		}
		n := tlvHeaderLen + int(binary.BigEndian.Uint16(tlvs[1:]))
		if n > len(tlvs) {
			return invalid("v2: TLV of type %#02x and %d bytes runs %d bytes past the header", tlvs[0], n, n-len(tlvs))
		}
		tlvs = tlvs[n:]
	}
	return nil
}

// unixPath turns a sun_path into a name: a path ends at its first NUL; an
// abstract name (first byte NUL) is written "@name" as package net writes it,
// with the NUL padding after it trimmed. An unnamed socket, all NULs, is "".
func unixPath(sunPath []byte) string {
	if sunPath[0] != 0 {
		if end := bytes.IndexByte(sunPath, 0); end >= 0 {
			sunPath = sunPath[:end]
		}
		return string(sunPath)
	}
	name := bytes.TrimRight(sunPath[1:], "\x00")
	if len(name) == 0 {
		return ""
	}
	return "@" + string(name)
}

// appendSunPath appends name as a sun_path, the reverse of unixPath ("@name"
// becomes a NUL and name), and reports whether it fits: at most 108 bytes, no
// NUL in a path.
func appendSunPath(dst []byte, name string) ([]byte, bool) {
	var sunPath [unixPathLen]byte
	if abstract, ok := strings.CutPrefix(name, "@"); ok {
		name = "\x00" + abstract
	} else if strings.IndexByte(name, 0) >= 0 {
		return dst, false
	}
	if len(name) > unixPathLen {
		return dst, false
	}
	copy(sunPath[:], name)
	return append(dst, sunPath[:]...), true
}

// AppendV2 appends h as a version 2 header without TLVs to dst and returns the
// result. A Local h is written as a LOCAL command; otherwise h.Network must be
// one of the networks Header lists, with Source and Dest of its family for IP,
// or SourceUnix and DestUnix of at most 108 bytes for AF_UNIX. A header it
// cannot write returns dst unchanged and an error wrapping ErrInvalid.
func AppendV2(dst []byte, h Header) ([]byte, error) {
	start := len(dst)
	dst = append(dst, v2Signature...)
	if h.Local {
		dst = append(dst, v2Version<<4|v2CommandLocal, v2Unspec)
		return binary.BigEndian.AppendUint16(dst, 0), nil
	}
	i := v2NetworkOfName(h.Network)
	if i < 0 {
		return dst[:start], invalid("v2: no network %q", h.Network)
	}
	network := v2Networks[i]
	dst = append(dst, v2Version<<4|v2CommandProxy, network.familyTransport)
	dst = binary.BigEndian.AppendUint16(dst, uint16(network.addrLen))
	switch network.network {
	case "unix", "unixgram":
		var srcOK, dstOK bool
		dst, srcOK = appendSunPath(dst, h.SourceUnix)
		dst, dstOK = appendSunPath(dst, h.DestUnix)
		if !srcOK || !dstOK {
			return dst[:start], invalid("v2: %q and %q are not both sun_paths", h.SourceUnix, h.DestUnix)
		}
	default:
		if !addrFits(h.Network, h.Source.Addr()) || !addrFits(h.Network, h.Dest.Addr()) {
			return dst[:start], invalid("v2: %v and %v are not both %s addresses without zone", h.Source, h.Dest, h.Network)
		}
		dst = append(dst, h.Source.Addr().AsSlice()...)
		dst = append(dst, h.Dest.Addr().AsSlice()...)
		dst = binary.BigEndian.AppendUint16(dst, h.Source.Port())
		dst = binary.BigEndian.AppendUint16(dst, h.Dest.Port())
	}
	return dst, nil
}
