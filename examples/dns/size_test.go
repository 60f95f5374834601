package main

import (
	"fmt"
	"strings"
	"testing"
)

// bigZone has answers that do not fit in 512 bytes: ten TXT records of 100
// bytes at big, twenty NS at the apex with an address each, and a delegation d
// to twenty servers under it, with glue.
func bigZone(t *testing.T) *zone {
	var b strings.Builder
	b.WriteString(zoneHead)
	for i := range 10 {
		fmt.Fprintf(&b, "big TXT %d%s\n", i, strings.Repeat("x", 99))
	}
	for i := range 20 {
		fmt.Fprintf(&b, "@ NS ns%02d\nns%02d A 192.0.2.%d\n", i, i, i)
		fmt.Fprintf(&b, "d NS ns%02d.d\nns%02d.d A 198.51.100.%d\n", i, i, i)
	}
	return zoneOf(t, b.String())
}

// respondChecked answers query and checks that the response decodes and fits
// limit.
func respondChecked(t *testing.T, z *zone, query []byte, stream bool, limit int) (decodedMsg, []byte) {
	t.Helper()
	resp := z.answer(query, nil, stream)
	m, err := decodeMessage(resp)
	if err != nil {
		t.Fatalf("response does not decode: %v", err)
	}
	if len(resp) > limit {
		t.Fatalf("response of %d bytes, over the %d allowed", len(resp), limit)
	}
	return m, resp
}

// TestAnAnswerOver512BytesIsTruncatedToTheQuestion: without EDNS, ten TXT
// records of 113 bytes get TC and the header and question alone; the answer is
// not cut to what fits.
func TestAnAnswerOver512BytesIsTruncatedToTheQuestion(t *testing.T) {
	z := bigZone(t)
	query := testQuery{id: 7, name: "big.example.com.", qtype: typeTXT}
	_, resp := respondChecked(t, z, query.bytes(), false, minUDPSize)
	checkBytes(t, resp, join(header(7, answerFlags|flagTC, 1, 0, 0, 0), wireName("big.example.com."), u16(typeTXT), u16(classIN)))
}

// TestEDNSPayloadSizeSetsTheLimit: a client's payload size is the limit,
// clamped to [512, 1232]; the OPT comes back in a truncated response too.
func TestEDNSPayloadSizeSetsTheLimit(t *testing.T) {
	z := bigZone(t)
	cases := []struct {
		udpSize   uint16
		limit     int
		truncated bool
	}{
		{100, minUDPSize, true}, // under 512: 512
		{512, minUDPSize, true},
		{1100, 1100, true}, // the answer takes 1174 bytes with its OPT
		{1173, 1173, true},
		{1174, 1174, false},       // exactly
		{4096, maxUDPSize, false}, // over 1232: 1232
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.udpSize), func(t *testing.T) {
			query := testQuery{id: 8, name: "big.example.com.", qtype: typeTXT, udpSize: tc.udpSize}
			m, _ := respondChecked(t, z, query.bytes(), false, tc.limit)
			if truncated := m.flags&flagTC != 0; truncated != tc.truncated || len(m.additional) != 1 || m.additional[0].rrtype != typeOPT {
				t.Fatalf("TC %v, additional %v; want TC %v and the OPT", truncated, m.additional, tc.truncated)
			}
			if !tc.truncated && len(m.answer) != 10 {
				t.Fatalf("%d answers, want 10", len(m.answer))
			}
		})
	}
}

// TestTCPTakesWhatUDPTruncates: over TCP the same query gets all ten records.
func TestTCPTakesWhatUDPTruncates(t *testing.T) {
	m, _ := respondChecked(t, bigZone(t), testQuery{id: 9, name: "big.example.com.", qtype: typeTXT}.bytes(), true, maxTCPSize)
	if m.flags&flagTC != 0 || len(m.answer) != 10 {
		t.Fatalf("flags %#x, %d answers; want all 10", m.flags, len(m.answer))
	}
}

// TestAddressesOfAnNSAnswerThatDoNotFitAreLeftOut: the additional section of an
// NS answer is optional; what does not fit is left out, without TC, and no
// pointer is left pointing at a record taken out.
func TestAddressesOfAnNSAnswerThatDoNotFitAreLeftOut(t *testing.T) {
	m, _ := respondChecked(t, bigZone(t), testQuery{id: 10, name: "example.com.", qtype: typeNS}.bytes(), false, minUDPSize)
	if m.flags&flagTC != 0 || len(m.answer) != 20 || len(m.additional) == 0 || len(m.additional) == 20 {
		t.Fatalf("flags %#x, %d answers, %d additional; want 20, and some but not all addresses", m.flags, len(m.answer), len(m.additional))
	}
	for i, rr := range m.additional {
		if want := fmt.Sprintf("ns%02d.example.com.", i); rr.name != want || rr.rdata != fmt.Sprintf("192.0.2.%d", i) {
			t.Fatalf("additional %d: %v, want %s's address", i, rr, want)
		}
	}
}

// TestGlueThatDoesNotFitTruncatesAReferral: glue under the delegation is what
// a resolver needs to follow it (RFC 9471), so a referral without it is TC.
func TestGlueThatDoesNotFitTruncatesAReferral(t *testing.T) {
	z := bigZone(t)
	query := testQuery{id: 11, name: "host.d.example.com.", qtype: typeA}
	m, _ := respondChecked(t, z, query.bytes(), false, minUDPSize)
	if m.flags&flagTC == 0 || len(m.auth) != 0 {
		t.Fatalf("flags %#x, %d in authority; want TC and the question alone", m.flags, len(m.auth))
	}
	query.udpSize = 1232
	m, _ = respondChecked(t, z, query.bytes(), false, maxUDPSize)
	if m.flags&(flagTC|flagAA) != 0 || len(m.auth) != 20 || len(m.additional) != 21 {
		t.Fatalf("flags %#x, %d NS, %d additional; want a referral with 20 NS, 20 glue and the OPT", m.flags, len(m.auth), len(m.additional))
	}
}
