// Package proxyproto parses and builds PROXY protocol headers, versions 1 and 2,
// as HAProxy's proxy-protocol.txt defines them: the few bytes a load balancer
// sends at the start of a TCP connection to say whose connection it is.
//
// Guarantees:
//   - Parse never reads past the end of the header it returns, so the bytes
//     after n belong to the application.
//   - Parse asks for more bytes (ErrIncomplete) only while what it has could still
//     begin a header it would accept, as far as it checks before the header is
//     whole: both signatures, every version 1 field so far, and the 16-byte
//     fixed part of version 2 (version, command, family, length). The version 2
//     address and TLV block is checked once all of it is there.
//   - A header Parse accepts is at most MaxLen bytes, and Parse never answers
//     ErrIncomplete to MaxLen bytes or more: a caller that buffers MaxLen bytes
//     gets a header or an error wrapping ErrInvalid.
//
// Every function here is pure and safe from any goroutine.
package proxyproto

import (
	"errors"
	"fmt"
	"net/netip"
)

// MaxLen is the most bytes a header that Parse accepts can take. A version 1
// header is at most 107 bytes (v1MaxLen). Version 2 states its own length in a
// 16-bit field, so it could claim 16+65535 bytes; Parse refuses one longer than
// MaxLen, which leaves room for the longest address block (216 bytes of AF_UNIX
// paths) and some 3.8 KiB of TLVs, far more than balancers send in practice
// (an AWS VPC endpoint id, a TLS version and cipher), while a caller can hold a
// header in a single small buffer.
const MaxLen = 4096

var (
	// ErrIncomplete says that the bytes given are the start of what may be a valid
	// header, and Parse needs more of them to tell.
	ErrIncomplete = errors.New("proxyproto: incomplete header")
	// ErrInvalid is wrapped by every error that says the bytes cannot start a
	// header Parse accepts.
	ErrInvalid = errors.New("proxyproto: invalid header")
)

// Header is what a PROXY header says about the connection it precedes.
type Header struct {
	// Version is 1 or 2, the version of the header parsed. The Append functions
	// ignore it: each writes its own version.
	Version int
	// Local is set when the header gives no addresses: a version 2 LOCAL
	// command (a health check from the balancer itself), a version 2 PROXY
	// command with the UNSPEC family, or a version 1 "UNKNOWN" line. The
	// receiver should then use the connection's own endpoints.
	Local bool
	// Network names the transport as package net does: "tcp4", "tcp6", "udp4",
	// "udp6" (version 2 DGRAM over INET and INET6), "unix", "unixgram"
	// (version 2 STREAM and DGRAM over UNIX), or "" when Local is set.
	Network string
	// Source and Dest are the original client's address and the address it
	// connected to, for the four IP networks; zero otherwise.
	Source, Dest netip.AddrPort
	// SourceUnix and DestUnix are the AF_UNIX paths for "unix" and "unixgram",
	// without their NUL padding; zero otherwise. An abstract socket name (one
	// that starts with a NUL byte) is written with a leading '@', as package net
	// writes it.
	SourceUnix, DestUnix string
}

// Parse reads a header at the start of b. It returns the header and its length
// in bytes; ErrIncomplete, with n == 0, when b is too short to tell but could
// still begin a header; or an error wrapping ErrInvalid, with n == 0, when b
// cannot begin a header that Parse accepts. A byte that neither signature allows
// is refused at once, so a client that does not speak the protocol is told so
// by its first byte.
func Parse(b []byte) (h Header, n int, err error) {
	switch {
	case len(b) == 0:
		return Header{}, 0, ErrIncomplete
	case b[0] == v2Signature[0]:
		return parseV2(b)
	case b[0] == v1Signature[0]:
		return parseV1(b)
	}
	return Header{}, 0, invalid("first byte %#02x starts neither signature", b[0])
}

// invalid returns an error wrapping ErrInvalid that says what was wrong.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// addrFits reports whether addr can be an address of network: IPv4 for "tcp4"
// and "udp4", IPv6 (IPv4-mapped included) without a zone for "tcp6" and "udp6".
// A zone names an interface of the sender's host, meaningless to the receiver,
// and neither version can carry one.
func addrFits(network string, addr netip.Addr) bool {
	switch network {
	case "tcp4", "udp4":
		return addr.Is4()
	case "tcp6", "udp6":
		return addr.Is6() && addr.Zone() == ""
	}
	return false
}
