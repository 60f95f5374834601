package main

import (
	"fmt"
	"strings"
)

// A zone parsed from text answers an A query; the response is read back with
// the tests' decoder.
func Example_respond() {
	z, err := parseZone(strings.NewReader(`
$ORIGIN example.com.
$TTL 1h
@    SOA ns1 hostmaster ( 1 2h 1h 2w 5m )
     NS  ns1
ns1  A   192.0.2.53
www  CNAME ns1
`), "example.zone", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	out := make([]byte, 0, maxUDPSize) // reused from query to query
	query := testQuery{id: 42, name: "www.example.com.", qtype: typeA}.bytes()
	m, _ := decodeMessage(z.respond(query, out))
	fmt.Printf("id %d, rcode %d, AA %v\n", m.id, m.flags&rcodeMask, m.flags&flagAA != 0)
	for _, rr := range m.answer {
		fmt.Println(rr)
	}
	// Output:
	// id 42, rcode 0, AA true
	// www.example.com. 3600 1 5 ns1.example.com.
	// ns1.example.com. 3600 1 1 192.0.2.53
}
