package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// FuzzQuery checks respond and respondTCP on any message: they never panic;
// they answer nothing only to less than a header or a response (QR set);
// anything else gets a message the test decoder reads whole, with the query's
// ID, QR set, the query's opcode, within the size limit, and, when it has a
// question, the query's question byte for byte. Seeds: answerCases and
// testdata/fuzz/FuzzQuery.
func FuzzQuery(f *testing.F) {
	for _, tc := range answerCases {
		f.Add(tc.query.bytes())
	}
	z := exampleZone(f)
	out := make([]byte, 0, maxTCPSize)
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, stream := range []bool{false, true} {
			checkResponse(t, msg, z.answer(msg, out, stream), stream)
		}
	})
}

// checkResponse checks the response resp to msg, for FuzzQuery.
func checkResponse(t *testing.T, msg, resp []byte, stream bool) {
	t.Helper()
	if resp == nil {
		if len(msg) >= headerLen && msg[2]&0x80 == 0 {
			t.Fatalf("no response to a query of %d bytes", len(msg))
		}
		return
	}
	m, err := decodeMessage(resp)
	if err != nil {
		t.Fatalf("response %x to %x: %v", resp, msg, err)
	}
	q, _ := parseQuery(msg)
	limit := minUDPSize
	switch {
	case stream:
		limit = maxTCPSize
	case q.edns:
		limit = maxUDPSize
	}
	switch {
	case m.id != be16(msg):
		t.Fatalf("ID %#x, the query's is %#x", m.id, be16(msg))
	case m.flags&flagQR == 0 || m.flags&opcodeMask != be16(msg[2:])&opcodeMask:
		t.Fatalf("flags %#x for a query's %#x", m.flags, be16(msg[2:]))
	case len(resp) > limit:
		t.Fatalf("response of %d bytes, over %d", len(resp), limit)
	case m.qname != "" && !bytes.Equal(resp[headerLen:m.questionLength], msg[headerLen:m.questionLength]):
		t.Fatalf("question %x, the query's %x", resp[headerLen:m.questionLength], msg[headerLen:])
	}
}

// FuzzZone checks parseZone on any text: it never panics; an error names the
// file; a zone that loads answers a query for its SOA with it, and A and ANY
// queries for each of its names (the first 64) with responses that pass
// FuzzQuery's checks. Seeds: the example zone, and zones of
// TestZoneErrorsNameTheFileAndLine's kind in testdata/fuzz/FuzzZone.
func FuzzZone(f *testing.F) {
	example, err := os.ReadFile("testdata/example.zone")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Fuzz(func(t *testing.T, text []byte) {
		z, err := parseZone(bytes.NewReader(text), "fuzz.zone", "")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.zone:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		query := join(header(1, 0, 1, 0, 0, 0), z.apex, u16(typeSOA), u16(classIN))
		m, err := decodeMessage(z.respondTCP(query, nil))
		if err != nil || m.flags&rcodeMask != rcodeNoError || len(m.answer) != 1 || m.answer[0].rrtype != typeSOA {
			t.Fatalf("the SOA query: %+v, %v", m, err)
		}
		asked := 0
		for _, n := range z.nodes {
			for _, qtype := range [...]uint16{typeA, typeANY} {
				query := join(header(2, flagRD, 1, 0, 0, 0), n.name, u16(qtype), u16(classIN))
				checkResponse(t, query, z.respond(query, nil), false)
				checkResponse(t, query, z.respondTCP(query, nil), true)
			}
			if asked++; asked == 64 {
				break
			}
		}
	})
}
