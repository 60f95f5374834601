package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// v2Header builds a version 2 header by hand: the signature, bytes 12 and 13 as
// given, and a length that covers parts, which follow.
func v2Header(versionCommand, familyTransport byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	b := append([]byte(v2Signature), versionCommand, familyTransport)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// tlv builds one TLV of the given type and value.
func tlv(typ byte, value []byte) []byte {
	b := binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(value)))
	return append(b, value...)
}

// sunPaths builds an AF_UNIX address block: two NUL-padded 108-byte sun_paths.
func sunPaths(src, dst string) []byte {
	b := make([]byte, 2*unixPathLen)
	copy(b, src)
	copy(b[unixPathLen:], dst)
	return b
}

// ip returns the bytes of an address: 4 for IPv4, 16 for IPv6.
func ip(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func port(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

const (
	proxyV2 = v2Version<<4 | v2CommandProxy
	localV2 = v2Version<<4 | v2CommandLocal
)

// maxV1Unknown is the spec's longest version 1 header, 107 bytes.
const maxV1Unknown = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"

// validHeaders holds one header of every form Parse accepts, and what it says.
var validHeaders = []struct {
	name  string
	input []byte
	want  Header
}{
	{"v1 TCP4", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n"),
		Header{Version: 1, Network: "tcp4", Source: addrPort("192.0.2.1:51234"), Dest: addrPort("198.51.100.7:443")}},
	{"v1 TCP4 ports 0 and 65535", []byte("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"),
		Header{Version: 1, Network: "tcp4", Source: addrPort("0.0.0.0:0"), Dest: addrPort("255.255.255.255:65535")}},
	{"v1 TCP6", []byte("PROXY TCP6 2001:db8::1 2001:db8::7 51234 443\r\n"),
		Header{Version: 1, Network: "tcp6", Source: addrPort("[2001:db8::1]:51234"), Dest: addrPort("[2001:db8::7]:443")}},
	{"v1 TCP6 upper case and IPv4-mapped", []byte("PROXY TCP6 2001:DB8::A ::ffff:192.0.2.1 1 2\r\n"),
		Header{Version: 1, Network: "tcp6", Source: addrPort("[2001:db8::a]:1"), Dest: addrPort("[::ffff:192.0.2.1]:2")}},
	{"v1 TCP6 longest", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
		Header{Version: 1, Network: "tcp6",
			Source: addrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
			Dest:   addrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}},
	{"v1 UNKNOWN bare", []byte("PROXY UNKNOWN\r\n"), Header{Version: 1, Local: true}},
	{"v1 UNKNOWN 107 bytes", []byte(maxV1Unknown), Header{Version: 1, Local: true}},
	{"v1 UNKNOWN anything", []byte("PROXY UNKNOWN  x\ry\x00z \r\n"), Header{Version: 1, Local: true}},

	{"v2 TCP4", v2Header(proxyV2, 0x11, ip("192.0.2.1"), ip("198.51.100.7"), port(51234), port(443)),
		Header{Version: 2, Network: "tcp4", Source: addrPort("192.0.2.1:51234"), Dest: addrPort("198.51.100.7:443")}},
	{"v2 UDP4", v2Header(proxyV2, 0x12, ip("192.0.2.1"), ip("198.51.100.7"), port(53), port(5353)),
		Header{Version: 2, Network: "udp4", Source: addrPort("192.0.2.1:53"), Dest: addrPort("198.51.100.7:5353")}},
	{"v2 TCP6", v2Header(proxyV2, 0x21, ip("2001:db8::1"), ip("::ffff:192.0.2.1"), port(1), port(65535)),
		Header{Version: 2, Network: "tcp6", Source: addrPort("[2001:db8::1]:1"), Dest: addrPort("[::ffff:192.0.2.1]:65535")}},
	{"v2 UDP6", v2Header(proxyV2, 0x22, ip("2001:db8::1"), ip("2001:db8::7"), port(0), port(0)),
		Header{Version: 2, Network: "udp6", Source: addrPort("[2001:db8::1]:0"), Dest: addrPort("[2001:db8::7]:0")}},
	{"v2 UNIX stream", v2Header(proxyV2, 0x31, sunPaths("/run/client.sock", "/run/app.sock")),
		Header{Version: 2, Network: "unix", SourceUnix: "/run/client.sock", DestUnix: "/run/app.sock"}},
	{"v2 UNIX stream, unnamed client, path of 108 bytes", v2Header(proxyV2, 0x31, sunPaths("", strings.Repeat("p", 108))),
		Header{Version: 2, Network: "unix", DestUnix: strings.Repeat("p", 108)}},
	{"v2 UNIX dgram, abstract and bytes after the path's NUL", v2Header(proxyV2, 0x32, sunPaths("\x00abstract", "/log\x00junk")),
		Header{Version: 2, Network: "unixgram", SourceUnix: "@abstract", DestUnix: "/log"}},
	{"v2 LOCAL", v2Header(localV2, 0x00), Header{Version: 2, Local: true}},
	{"v2 LOCAL ignores family and addresses", v2Header(localV2, 0x11, ip("192.0.2.1")),
		Header{Version: 2, Local: true}},
	{"v2 LOCAL ignores an unknown family", v2Header(localV2, 0xff, []byte{1, 2, 3}),
		Header{Version: 2, Local: true}},
	{"v2 PROXY UNSPEC", v2Header(proxyV2, 0x00, []byte("whatever")), Header{Version: 2, Local: true}},
	{"v2 TCP4 with TLVs", v2Header(proxyV2, 0x11, ip("192.0.2.1"), ip("198.51.100.7"), port(51234), port(443),
		tlv(0x01, []byte("h2")), tlv(0x04, nil), tlv(0xEA, []byte("vpce-0123456789abcdef0")), tlv(0x04, make([]byte, 5))),
		Header{Version: 2, Network: "tcp4", Source: addrPort("192.0.2.1:51234"), Dest: addrPort("198.51.100.7:443")}},
	{"v2 TCP6 with TLVs up to MaxLen", v2Header(proxyV2, 0x21, ip("2001:db8::1"), ip("2001:db8::7"), port(1), port(2),
		tlv(0x04, make([]byte, MaxLen-v2FixedLen-36-3))),
		Header{Version: 2, Network: "tcp6", Source: addrPort("[2001:db8::1]:1"), Dest: addrPort("[2001:db8::7]:2")}},
	{"v2 UNIX with a TLV", v2Header(proxyV2, 0x31, sunPaths("/a", "/b"), tlv(0x05, []byte{0xde, 0xad})),
		Header{Version: 2, Network: "unix", SourceUnix: "/a", DestUnix: "/b"}},
}

// malformedHeaders holds inputs no header can start. Each is refused as it
// stands, without more bytes.
var malformedHeaders = []struct {
	name  string
	input []byte
}{
	{"plaintext HTTP", []byte("GET / HTTP/1.1\r\n")},
	{"TLS ClientHello", []byte{0x16, 0x03, 0x01}},
	{"first byte", []byte("Q")},
	{"v1 lower case", []byte("proxy TCP4 192.0.2.1 198.51.100.7 1 2\r\n")},
	{"v1 signature cut short by a space", []byte("PROX ")},
	{"v1 no space after PROXY", []byte("PROXYTCP4")},
	{"v1 PROXY alone", []byte("PROXY\r\n")},
	{"v1 double space", []byte("PROXY  TCP4")},
	{"v1 unknown protocol", []byte("PROXY TCP5 ")},
	{"v1 unknown protocol cut short", []byte("PROXY UDP")},
	{"v1 UNKNOWN glued to more", []byte("PROXY UNKNOWNX\r\n")},
	{"v1 TCP4 with IPv6 addresses", []byte("PROXY TCP4 2001:db8::1 2001:db8::7 1 2\r\n")},
	{"v1 TCP4 with an IPv6 address cut short", []byte("PROXY TCP4 2001:")},
	{"v1 TCP6 with IPv4 addresses", []byte("PROXY TCP6 192.0.2.1 198.51.100.7 1 2\r\n")},
	{"v1 TCP6 with a zone", []byte("PROXY TCP6 fe80::1%eth0 2001:db8::7 1 2\r\n")},
	{"v1 IPv4 leading zero", []byte("PROXY TCP4 192.0.2.01 198.51.100.7 1 2\r\n")},
	{"v1 IPv4 three parts", []byte("PROXY TCP4 192.0.2 198.51.100.7 1 2\r\n")},
	{"v1 IPv4 five parts", []byte("PROXY TCP4 192.0.2.1.1 198.51.100.7 1 2\r\n")},
	{"v1 IPv4 over 255", []byte("PROXY TCP4 192.0.2.256 198.51.100.7 1 2\r\n")},
	{"v1 IPv4 too long to be one", []byte("PROXY TCP4 1921.1681.1001.1001")},
	{"v1 port over 65535", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 65536 2\r\n")},
	{"v1 port leading zero", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 080 2\r\n")},
	{"v1 port with a sign", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 +80 2\r\n")},
	{"v1 port negative", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1 -2\r\n")},
	{"v1 port of six digits", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1 123456\r\n")},
	{"v1 port with a letter, cut short", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 8a")},
	{"v1 port missing", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n")},
	{"v1 trailing space", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n")},
	{"v1 seventh field", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1 2 3\r\n")},
	{"v1 LF without CR", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n")},
	{"v1 CR without LF", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 1 2\rX")},
	{"v1 no CRLF in 107 bytes", []byte("PROXY UNKNOWN " + strings.Repeat("x", v1MaxLen-len("PROXY UNKNOWN ")))},
	{"v1 CRLF at 108 bytes", []byte("PROXY UNKNOWN " + strings.Repeat("x", v1MaxLen-len("PROXY UNKNOWN \r\n")+1) + "\r\n")},

	{"v2 signature, last byte", append([]byte(v2Signature[:11]), 'X')},
	{"v2 signature, sixth byte", []byte("\r\n\r\n\x00X")},
	{"v2 version 1", v2Header(0x11, 0x11, make([]byte, 12))[:13]},
	{"v2 version 3", v2Header(0x31, 0x11, make([]byte, 12))[:13]},
	{"v2 command 2", v2Header(0x22, 0x11, make([]byte, 12))[:13]},
	{"v2 command 15", v2Header(0x2f, 0x11, make([]byte, 12))[:13]},
	{"v2 family 4", v2Header(proxyV2, 0x41, make([]byte, 12))[:14]},
	{"v2 transport 3", v2Header(proxyV2, 0x13, make([]byte, 12))[:14]},
	{"v2 INET over UNSPEC transport", v2Header(proxyV2, 0x10, make([]byte, 12))[:14]},
	{"v2 UNSPEC family over STREAM", v2Header(proxyV2, 0x01)[:14]},
	{"v2 length over the cap", v2Header(proxyV2, 0x11, make([]byte, MaxLen-v2FixedLen+1))[:v2FixedLen]},
	{"v2 length 0xffff", v2Header(proxyV2, 0x11, make([]byte, 0xffff))[:v2FixedLen]},
	{"v2 TCP4 address block short", v2Header(proxyV2, 0x11, make([]byte, 11))},
	{"v2 TCP6 address block short", v2Header(proxyV2, 0x21, make([]byte, 12))[:v2FixedLen]},
	{"v2 UNIX address block short", v2Header(proxyV2, 0x31, make([]byte, 36))},
	{"v2 TLV runs past the header", v2Header(proxyV2, 0x11, make([]byte, 12), tlv(0x01, []byte("h2"))[:4])},
	{"v2 TLV length 0xffff", v2Header(proxyV2, 0x11, make([]byte, 12), []byte{0x04, 0xff, 0xff}, make([]byte, 100))},
	{"v2 two bytes after the last TLV", v2Header(proxyV2, 0x21, make([]byte, 36), tlv(0x04, nil), []byte{0x04, 0x00})},
}

func TestParseEveryForm(t *testing.T) {
	for _, tc := range validHeaders {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse(tc.input)
			if err != nil || n != len(tc.input) || h != tc.want {
				t.Fatalf("Parse = %+v, %d, %v; want %+v, %d, nil", h, n, err, tc.want, len(tc.input))
			}
		})
	}
}

func TestParseLeavesTheBytesAfterTheHeader(t *testing.T) {
	// Each line of what follows could be taken for more header: a second PROXY
	// line, a second signature, a CRLF.
	for _, rest := range []string{"GET / HTTP/1.1\r\n\r\n", "PROXY UNKNOWN\r\n", v2Signature, "\r\n", "\x00"} {
		for _, tc := range validHeaders {
			h, n, err := Parse(append(bytes.Clone(tc.input), rest...))
			if err != nil || n != len(tc.input) || h != tc.want {
				t.Errorf("%s followed by %q: Parse = %+v, %d, %v; want %+v, %d, nil", tc.name, rest, h, n, err, tc.want, len(tc.input))
			}
		}
	}
}

func TestParseAsksForMoreOnEveryPrefixOfAHeader(t *testing.T) {
	for _, tc := range validHeaders {
		for k := range len(tc.input) {
			h, n, err := Parse(tc.input[:k])
			if err != ErrIncomplete || n != 0 || h != (Header{}) {
				t.Fatalf("%s cut to %d of %d bytes: Parse = %+v, %d, %v; want ErrIncomplete", tc.name, k, len(tc.input), h, n, err)
			}
		}
	}
}

func TestParseRefusesMalformedHeaders(t *testing.T) {
	for _, tc := range malformedHeaders {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse(tc.input)
			if !errors.Is(err, ErrInvalid) || n != 0 || h != (Header{}) {
				t.Fatalf("Parse(%q) = %+v, %d, %v; want an error wrapping ErrInvalid", tc.input, h, n, err)
			}
			if !strings.HasPrefix(err.Error(), "proxyproto: invalid header: ") {
				t.Errorf("error %q does not start with the package's name", err)
			}
		})
	}
}

func TestParseRefusesEveryWrongSignatureByte(t *testing.T) {
	for _, signature := range []string{v1Signature + " ", v2Signature} {
		for i := range len(signature) {
			b := []byte(signature[:i+1])
			b[i] ^= 0x20 // 'P' becomes 'p', '\r' becomes '-', '\x00' becomes ' '.
			if _, _, err := Parse(b); !errors.Is(err, ErrInvalid) {
				t.Errorf("%q with byte %d changed: Parse error %v, want ErrInvalid", signature, i, err)
			}
		}
	}
}

func TestAppendRoundTripsThroughParse(t *testing.T) {
	for _, tc := range validHeaders {
		appendHeader := AppendV1
		if tc.want.Version == 2 {
			appendHeader = AppendV2
		}
		b, err := appendHeader([]byte("prefix"), tc.want)
		if err != nil {
			t.Fatalf("%s: Append: %v", tc.name, err)
		}
		h, n, err := Parse(b[len("prefix"):])
		if err != nil || n != len(b)-len("prefix") || h != tc.want {
			t.Errorf("%s: Parse(Append) = %+v, %d, %v; want %+v", tc.name, h, n, err, tc.want)
		}
	}
}

func TestAppendWritesTheSpecsBytes(t *testing.T) {
	h := Header{Network: "tcp4", Source: addrPort("192.0.2.1:51234"), Dest: addrPort("198.51.100.7:443")}
	v1, _ := AppendV1(nil, h)
	if want := "PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n"; string(v1) != want {
		t.Errorf("AppendV1 = %q, want %q", v1, want)
	}
	v2, _ := AppendV2(nil, h)
	if want := v2Header(0x21, 0x11, ip("192.0.2.1"), ip("198.51.100.7"), port(51234), port(443)); !bytes.Equal(v2, want) {
		t.Errorf("AppendV2 = %x, want %x", v2, want)
	}
	local, _ := AppendV2(nil, Header{Local: true})
	if want := v2Header(0x20, 0x00); !bytes.Equal(local, want) {
		t.Errorf("AppendV2(Local) = %x, want %x", local, want)
	}
}

func TestAppendRefusesHeadersTheVersionCannotCarry(t *testing.T) {
	v4, v6 := addrPort("192.0.2.1:1"), addrPort("[2001:db8::1]:2")
	cases := []struct {
		name    string
		version int
		h       Header
	}{
		{"v1 no network", 1, Header{Source: v4, Dest: v4}},
		{"v1 UDP", 1, Header{Network: "udp4", Source: v4, Dest: v4}},
		{"v1 UNIX", 1, Header{Network: "unix", SourceUnix: "/a", DestUnix: "/b"}},
		{"v1 tcp4 with an IPv6 address", 1, Header{Network: "tcp4", Source: v4, Dest: v6}},
		{"v1 tcp6 with an IPv4 address", 1, Header{Network: "tcp6", Source: v4, Dest: v6}},
		{"v1 tcp6 with a zone", 1, Header{Network: "tcp6", Source: addrPort("[fe80::1%eth0]:1"), Dest: v6}},
		{"v1 zero addresses", 1, Header{Network: "tcp4"}},
		{"v2 no network", 2, Header{Source: v4, Dest: v4}},
		{"v2 unknown network", 2, Header{Network: "sctp", Source: v4, Dest: v4}},
		{"v2 udp6 with an IPv4 address", 2, Header{Network: "udp6", Source: v6, Dest: v4}},
		{"v2 unix path over 108 bytes", 2, Header{Network: "unix", SourceUnix: strings.Repeat("p", 109)}},
		{"v2 unix abstract name over 107 bytes", 2, Header{Network: "unix", DestUnix: "@" + strings.Repeat("p", 108)}},
		{"v2 unix path with a NUL", 2, Header{Network: "unixgram", SourceUnix: "/a\x00b"}},
	}
	for _, tc := range cases {
		appendHeader := AppendV1
		if tc.version == 2 {
			appendHeader = AppendV2
		}
		b, err := appendHeader([]byte("prefix"), tc.h)
		if !errors.Is(err, ErrInvalid) || string(b) != "prefix" {
			t.Errorf("%s: Append = %q, %v; want dst unchanged and ErrInvalid", tc.name, b, err)
		}
	}
}

// FuzzParse checks Parse's contract on any input: no panic; an error of one of
// the two kinds, with n == 0 and no header; ErrIncomplete only under MaxLen
// bytes; a header is parsed the same from exactly its own bytes, is still
// incomplete one byte shorter, and round-trips through the Append function of
// its version. And Parse never refuses the start of an input it accepts or
// waits on: every prefix of such an input is incomplete or, past the header,
// the same header.
func FuzzParse(f *testing.F) {
	for _, tc := range validHeaders {
		f.Add(tc.input)
		f.Add(append(bytes.Clone(tc.input), "GET / HTTP/1.1\r\n"...))
	}
	for _, tc := range malformedHeaders {
		f.Add(tc.input)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		switch {
		case err == ErrIncomplete:
			if n != 0 || h != (Header{}) || len(b) >= MaxLen {
				t.Fatalf("ErrIncomplete with %d bytes consumed, header %+v, from %d bytes", n, h, len(b))
			}
		case err != nil:
			if !errors.Is(err, ErrInvalid) || n != 0 || h != (Header{}) {
				t.Fatalf("error %v with %d bytes consumed, header %+v", err, n, h)
			}
			return
		default:
			checkParsedHeader(t, b, h, n)
		}
		for k := range len(b) {
			hk, nk, errk := Parse(b[:k])
			switch {
			case k < n || n == 0:
				if errk != ErrIncomplete {
					t.Fatalf("Parse of %d bytes: %v, but of %d bytes: %+v, %d, %v", len(b), err, k, hk, nk, errk)
				}
			case errk != nil || hk != h || nk != n:
				t.Fatalf("Parse of %d bytes: %+v, %d; of %d bytes: %+v, %d, %v", len(b), h, n, k, hk, nk, errk)
			}
		}
	})
}

// checkParsedHeader checks a header Parse read from the first n bytes of b.
func checkParsedHeader(t *testing.T, b []byte, h Header, n int) {
	t.Helper()
	if n <= 0 || n > len(b) || n > MaxLen {
		t.Fatalf("consumed %d of %d bytes (MaxLen %d)", n, len(b), MaxLen)
	}
	hasAddrs := h.Source.IsValid() || h.Dest.IsValid() || h.SourceUnix != "" || h.DestUnix != ""
	if h.Version != 1 && h.Version != 2 || h.Local && (h.Network != "" || hasAddrs) || !h.Local && h.Network == "" {
		t.Fatalf("inconsistent header %+v", h)
	}
	appendHeader := AppendV1
	if h.Version == 2 {
		appendHeader = AppendV2
	}
	again, err := appendHeader(nil, h)
	if err != nil {
		t.Fatalf("Append(%+v): %v", h, err)
	}
	if h2, n2, err := Parse(again); err != nil || h2 != h || n2 != len(again) {
		t.Fatalf("Parse(Append(%+v)) = %+v, %d, %v", h, h2, n2, err)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"v1 TCP4", "v1 TCP6", "v2 TCP4", "v2 TCP6", "v2 TCP4 with TLVs"} {
		var input []byte
		for _, tc := range validHeaders {
			if tc.name == name {
				input = tc.input
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(input)))
			for b.Loop() {
				if _, _, err := Parse(input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
