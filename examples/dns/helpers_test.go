package main

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// TestMain fails the run on leaked goroutines or fds.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// exampleZone is testdata/example.zone, loaded once per test that asks.
func exampleZone(t testing.TB) *zone {
	t.Helper()
	z, err := loadZone("testdata/example.zone")
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// zoneOf parses text as a zone file named "test.zone", failing the test on an
// error.
func zoneOf(t testing.TB, text string) *zone {
	t.Helper()
	z, err := parseZone(strings.NewReader(text), "test.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// testQuery describes a query to build. The zero value of each field is the
// common case: flags RD, class IN, no EDNS.
type testQuery struct {
	id     uint16
	name   string
	qtype  uint16
	qclass uint16 // 0: IN
	flags  uint16 // 0: RD only
	// udpSize, when not 0, adds an OPT record with this payload size and
	// ednsVersion.
	udpSize     uint16
	ednsVersion uint8
}

// bytes builds the query's message.
func (tq testQuery) bytes() []byte {
	flags, class, additional := tq.flags, tq.qclass, uint16(0)
	if flags == 0 {
		flags = flagRD
	}
	if class == 0 {
		class = classIN
	}
	if tq.udpSize != 0 {
		additional = 1
	}
	msg := join(header(tq.id, flags, 1, 0, 0, additional), wireName(tq.name), u16(tq.qtype), u16(class))
	if tq.udpSize != 0 {
		msg = join(msg, []byte{0}, u16(typeOPT), u16(tq.udpSize), []byte{0, tq.ednsVersion, 0, 0}, u16(0))
	}
	return msg
}

// The byte builders below write expected messages by hand, apart from the
// code under test.

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func header(id, flags, qd, an, ns, ar uint16) []byte {
	return join(u16(id), u16(flags), u16(qd), u16(an), u16(ns), u16(ar))
}

// wireName writes a name of plain labels ("www.example.com.") in wire form,
// uncompressed.
func wireName(name string) []byte {
	var out []byte
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label != "" {
			out = append(append(out, byte(len(label))), label...)
		}
	}
	return append(out, 0)
}

// labels writes the labels of a relative name ("www") with no end, to go before
// a pointer.
func labels(name string) []byte { w := wireName(name); return w[:len(w)-1] }

// ptr writes a compression pointer to offset.
func ptr(offset int) []byte { return []byte{0xC0 | byte(offset>>8), byte(offset)} }

// rr writes a record of class IN after its owner (already in wire form).
func rr(owner []byte, rrtype uint16, ttl uint32, rdata ...[]byte) []byte {
	data := join(rdata...)
	return join(owner, u16(rrtype), u16(classIN), u32(ttl), u16(uint16(len(data))), data)
}

// opt writes the OPT record a response carries: our payload size, extended
// RCODE ext.
func opt(ext byte) []byte {
	return join([]byte{0}, u16(typeOPT), u16(advertisedUDPSize), []byte{ext, 0, 0, 0}, u16(0))
}

// checkBytes fails the test when got is not want, with both in hex.
func checkBytes(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("response:\n%swant:\n%s", hex.Dump(got), hex.Dump(want))
	}
}
