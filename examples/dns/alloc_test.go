package main

import (
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// TestAnswersAllocateNothing counts the allocations of respond for each kind
// of answer, into a buffer of maxUDPSize bytes reused from one query to the
// next: none, for all of them.
func TestAnswersAllocateNothing(t *testing.T) {
	z := exampleZone(t)
	cases := []struct {
		name  string
		query []byte
	}{
		{"A hit", testQuery{name: "www.example.com.", qtype: typeA}.bytes()},
		{"A hit with EDNS", testQuery{name: "www.example.com.", qtype: typeA, udpSize: 1232}.bytes()},
		{"CNAME followed", testQuery{name: "www2.example.com.", qtype: typeA}.bytes()},
		{"NXDOMAIN", testQuery{name: "nope.example.com.", qtype: typeA}.bytes()},
		{"NODATA", testQuery{name: "www.example.com.", qtype: typeTXT}.bytes()},
		{"referral", testQuery{name: "host.sub.example.com.", qtype: typeA}.bytes()},
		{"NS with addresses", testQuery{name: "example.com.", qtype: typeNS}.bytes()},
		{"ANY", testQuery{name: "example.com.", qtype: typeANY}.bytes()},
		{"REFUSED", testQuery{name: "www.example.org.", qtype: typeA}.bytes()},
		{"FORMERR", testQuery{name: "www.example.com.", qtype: typeA}.bytes()[:20]},
	}
	out := make([]byte, 0, maxUDPSize)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp []byte
			respond := func() { resp = z.respond(tc.query, out) }
			if n := testutil.Mallocs(1000, respond); n != 0 {
				t.Fatalf("%d allocations in 1000 answers, want 0", n)
			}
			if _, err := decodeMessage(resp); err != nil {
				t.Fatalf("response: %v", err)
			}
		})
	}
}

// BenchmarkRespond measures answers of each common kind, into a reused buffer.
func BenchmarkRespond(b *testing.B) {
	z := exampleZone(b)
	for _, bc := range []struct {
		name  string
		query testQuery
	}{
		{"A", testQuery{name: "www.example.com.", qtype: typeA}},
		{"AAAA-EDNS", testQuery{name: "www.example.com.", qtype: typeAAAA, udpSize: 1232}},
		{"CNAME", testQuery{name: "www2.example.com.", qtype: typeA}},
		{"NXDOMAIN", testQuery{name: "nope.example.com.", qtype: typeA}},
		{"referral", testQuery{name: "host.sub.example.com.", qtype: typeA}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			query, out := bc.query.bytes(), make([]byte, 0, maxUDPSize)
			b.ReportAllocs()
			for b.Loop() {
				out = z.respond(query, out)
			}
		})
	}
}
