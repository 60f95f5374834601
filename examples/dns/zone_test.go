package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// setStrings returns the records of the set of type rrtype at name as "TTL
// RDATA" lines, read back with the test decoder; nil when there is no set.
func setStrings(t *testing.T, z *zone, name string, rrtype uint16) []string {
	t.Helper()
	n := z.nodes[string(wireName(strings.ToLower(name)))]
	if n == nil || n.set(rrtype) == nil {
		return nil
	}
	set := n.set(rrtype)
	var lines []string
	for _, rr := range set.rrs {
		rdata, err := decodeRdata(rr, rrtype, rrFixedLen, len(rr))
		if err != nil {
			t.Fatalf("%s type %d: %v", name, rrtype, err)
		}
		lines = append(lines, fmt.Sprintf("%d %s", set.ttl(), rdata))
	}
	return lines
}

// TestExampleZoneParses reads testdata/example.zone and checks every set in it:
// TTLs from $TTL, units and the previous record, owners omitted, relative and
// absolute names, $ORIGIN changed relatively and back, the multi-line SOA and
// TXT escapes.
func TestExampleZoneParses(t *testing.T) {
	z := exampleZone(t)
	want := []struct {
		name   string
		rrtype uint16
		rrs    string // records joined with " | "
	}{
		{"example.com.", typeSOA, "3600 ns1.example.com. Hostmaster.Example.COM. 2024060101 7200 3600 1209600 300"},
		{"example.com.", typeNS, "3600 ns1.example.com. | 3600 ns2.example.com."},
		{"example.com.", typeA, "3600 192.0.2.1"},
		{"example.com.", typeAAAA, "3600 2001:db8::1"},
		{"example.com.", typeTXT, `3600 "v=spf1 -all"`},
		{"ns1.example.com.", typeA, "3600 192.0.2.53"},
		{"ns2.example.com.", typeA, "600 192.0.2.54"},
		{"ns2.example.com.", typeAAAA, "600 2001:db8::54"},
		{"www.example.com.", typeA, "300 192.0.2.80 | 300 192.0.2.81"},
		{"www.example.com.", typeAAAA, "3600 2001:db8::80"},
		{"www2.example.com.", typeCNAME, "3600 www.example.com."},
		{"ext.example.com.", typeCNAME, "3600 www.example.org."},
		{"txt.example.com.", typeTXT, `3600 "first string" "second \"quoted\" string" "ABC; not a comment" | 3600 "unquoted" "words"`},
		{"a.b.c.example.com.", typeA, "3600 192.0.2.3"},
		{"sub.example.com.", typeNS, "3600 ns.sub.example.com. | 3600 ns.example.net."},
		{"ns.sub.example.com.", typeA, "3600 192.0.2.100"},
		{"dangling.example.com.", typeCNAME, "3600 nothere.example.com."},
		{"loop1.example.com.", typeCNAME, "3600 loop2.example.com."},
		{"loop2.example.com.", typeCNAME, "3600 loop1.example.com."},
	}
	records := 0
	for _, w := range want {
		got := strings.Join(setStrings(t, z, w.name, w.rrtype), " | ")
		if got != w.rrs {
			t.Errorf("%s type %d:\n got %s\nwant %s", w.name, w.rrtype, got, w.rrs)
		}
		records += strings.Count(w.rrs, " | ") + 1
	}
	if z.records != records || z.records != 23 {
		t.Errorf("%d records, want the %d above (23)", z.records, records)
	}
	if got := nameString(z.nodes[string(wireName("www2.example.com."))].name); got != "WWW2.example.com." {
		t.Errorf("www2's name %q: the file's case is lost", got)
	}
	for _, empty := range []string{"b.c.example.com.", "c.example.com."} {
		if n := z.nodes[string(wireName(empty))]; n == nil || len(n.sets) != 0 {
			t.Errorf("%s: want an empty non-terminal, got %+v", empty, n)
		}
	}
	sub := z.nodes[string(wireName("sub.example.com."))]
	for name, wantCut := range map[string]*node{"sub.example.com.": sub, "ns.sub.example.com.": sub, "www.example.com.": nil, "example.com.": nil} {
		if n := z.nodes[string(wireName(name))]; n.cut != wantCut {
			t.Errorf("%s: delegation %v, want %v", name, n.cut, wantCut)
		}
	}
}

// zoneHead is an SOA and $TTL to put before the records a test is about.
const zoneHead = "$ORIGIN example.com.\n$TTL 1h\n@ SOA ns hostmaster 1 2 3 4 5\n"

// TestZoneErrorsNameTheFileAndLine loads broken zones: each error starts with
// "test.zone:LINE: " (or "test.zone: " for the whole file) and says what is wrong.
func TestZoneErrorsNameTheFileAndLine(t *testing.T) {
	cases := []struct {
		name, text string
		line       int    // 0: about the whole file
		want       string // in the message
		sentinel   error  // nil: none to check
	}{
		{"no SOA", "$ORIGIN example.com.\n$TTL 1h\nwww A 192.0.2.1\n", 0, "no SOA record", errSOACount},
		{"two SOAs", zoneHead + "www A 192.0.2.1\n@ SOA ns hostmaster 2 2 3 4 5\n", 5, "a second SOA (the first is at line 3)", errSOACount},
		{"an unsupported type", zoneHead + "\n@ MX 10 mail\n", 5, "record type MX: not supported", errUnsupported},
		{"class CH", zoneHead + "www CH A 192.0.2.1\n", 4, "class CH: not supported", errUnsupported},
		{"class HS after a TTL", zoneHead + "www 60 HS A 192.0.2.1\n", 4, "class HS: not supported", errUnsupported},
		{"a CNAME beside an A", zoneHead + "www A 192.0.2.1\nwww CNAME other\n", 5, "www.example.com. (the other at line 4)", errCNAMEAndMore},
		{"an A beside a CNAME", zoneHead + "www CNAME other\n  A 192.0.2.1\n", 5, "www.example.com. (the other at line 4)", errCNAMEAndMore},
		{"a CNAME at the apex", zoneHead + "@ CNAME other\n", 4, "example.com. (the other at line 3)", errCNAMEAndMore},
		{"two CNAMEs", zoneHead + "www CNAME a\nwww CNAME b\n", 5, "a second CNAME (the first at line 4)", errCNAMEAndMore},
		{"an owner outside the zone", zoneHead + "www.example.org. A 192.0.2.1\n", 4, "www.example.org. is outside the zone example.com.", errOutsideZone},
		{"a short IPv4 address", zoneHead + "www A 192.0.2\n", 4, `"192.0.2" is not an IPv4 address`, nil},
		{"an IPv4 address in AAAA", zoneHead + "www AAAA 192.0.2.1\n", 4, `"192.0.2.1" is not an IPv6 address`, nil},
		{"an IPv6 address with a zone", zoneHead + "www AAAA fe80::1%eth0\n", 4, "is not an IPv6 address", nil},
		{"A with two fields", zoneHead + "www A 192.0.2.1 192.0.2.2\n", 4, "A takes one field, not 2", nil},
		{"A with none", zoneHead + "www A\n", 4, "A takes one field, not 0", nil},
		{"no type", zoneHead + "www 300 IN\n", 4, "no record type", nil},
		{"SOA with six fields", "$ORIGIN example.com.\n$TTL 1h\n@ SOA ns hostmaster (\n 1 2 3\n 4 )\n", 3, "SOA takes 7 fields", nil},
		{"a bad serial inside the SOA's parentheses", "$ORIGIN example.com.\n$TTL 1h\n@ SOA ns hostmaster (\n ; the serial:\n x1 2 3 4 5 )\n", 5, `SOA serial`, nil},
		{"a bad time inside the SOA's parentheses", "$ORIGIN example.com.\n$TTL 1h\n@ SOA ns hostmaster (\n 1 2\n 3 4 5y )\n", 5, `TTL "5y"`, nil},
		{"an unterminated string", zoneHead + "txt TXT \"abc\n", 4, "a quoted string that does not end on its line", nil},
		{"an unclosed parenthesis", zoneHead + "txt TXT ( \"abc\"\n\"def\"\n", 5, `the "(" of line 4 is never closed`, nil},
		{"nested parentheses", zoneHead + "txt TXT ( (\n", 4, "inside the", nil},
		{"a stray close", zoneHead + "txt TXT abc )\n", 4, `a ")" with no "("`, nil},
		{"a backslash ending a line", zoneHead + "txt TXT abc\\\n", 4, "at the end of a line", nil},
		{"a TXT string of 256 bytes", zoneHead + "txt TXT " + strings.Repeat("x", 256) + "\n", 4, "longer than 255 bytes", nil},
		{"an escape over 255", zoneHead + "txt TXT \"\\256\"\n", 4, "over 255", nil},
		{"an escape of two digits", zoneHead + "txt TXT \"\\25\"\n", 4, "without three digits", nil},
		{"a label of 64 bytes", zoneHead + strings.Repeat("a", 64) + " A 192.0.2.1\n", 4, "a label longer than 63 bytes", nil},
		{"a name of 256 bytes", zoneHead + strings.Repeat("abcdefg.", 31) + "x A 192.0.2.1\n", 4, "longer than 255 bytes", nil},
		{"an empty label", zoneHead + "a..b A 192.0.2.1\n", 4, "an empty label", nil},
		{"a relative name before any $ORIGIN", "$TTL 1h\nwww A 192.0.2.1\n", 2, `relative name "www" with no $ORIGIN`, nil},
		{"@ before any $ORIGIN", "$TTL 1h\n@ A 192.0.2.1\n", 2, `"@" with no $ORIGIN`, nil},
		{"no TTL and no $TTL", "$ORIGIN example.com.\n@ SOA ns hostmaster 1 2 3 4 5\n", 2, "no TTL, and no $TTL", nil},
		{"a TTL with a unit that is not one", zoneHead + "www 1x A 192.0.2.1\n", 4, `TTL "1x"`, nil},
		{"a TTL of 2^31", zoneHead + "www 2147483648 A 192.0.2.1\n", 4, `TTL "2147483648"`, nil},
		{"two TTLs", zoneHead + "www 1 2 A 192.0.2.1\n", 4, `a second TTL, "2"`, nil},
		{"$INCLUDE", zoneHead + "$INCLUDE other.zone\n", 4, "$INCLUDE: not supported", errUnsupported},
		{"an unknown directive", zoneHead + "$FOO bar\n", 4, "unknown directive $FOO", nil},
		{"$ORIGIN with two names", zoneHead + "$ORIGIN a. b.\n", 4, "$ORIGIN takes one argument, not 2", nil},
		{"no owner for the first record", "$ORIGIN example.com.\n$TTL 1h\n  A 192.0.2.1\n", 3, "no owner name", nil},
		{"a quoted owner", zoneHead + "\"www\" A 192.0.2.1\n", 4, `a name, "www", in quotes`, nil},
		{"a quoted TTL", zoneHead + "www \"300\" A 192.0.2.1\n", 4, `record type 300: not supported`, errUnsupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseZone(strings.NewReader(tc.text), "test.zone", "")
			if err == nil {
				t.Fatalf("no error for:\n%s", tc.text)
			}
			prefix := fmt.Sprintf("test.zone:%d: ", tc.line)
			if tc.line == 0 {
				prefix = "test.zone: "
			}
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q then %q", err, prefix, tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Fatalf("error %q is not %q", err, tc.sentinel)
			}
		})
	}
}

// TestZoneOriginGivenByTheCaller: with an origin, relative names need no
// $ORIGIN, and the SOA must be at it.
func TestZoneOriginGivenByTheCaller(t *testing.T) {
	text := "$TTL 1h\n@ SOA ns hostmaster 1 2 3 4 5\nwww A 192.0.2.1\n"
	z, err := parseZone(strings.NewReader(text), "test.zone", "example.com.")
	if err != nil {
		t.Fatal(err)
	}
	if got := setStrings(t, z, "www.example.com.", typeA); len(got) != 1 {
		t.Fatalf("www: %q", got)
	}
	text = "$TTL 1h\n$ORIGIN example.net.\n@ SOA ns hostmaster 1 2 3 4 5\n"
	_, err = parseZone(strings.NewReader(text), "test.zone", "example.com.")
	if err == nil || !strings.HasPrefix(err.Error(), "test.zone:3: the SOA is at example.net., not at the origin example.com.") {
		t.Fatalf("error %v, want the SOA's line and both names", err)
	}
}

// TestZoneReadsWhatBINDWrites feeds forms the example zone does not use.
func TestZoneReadsWhatBINDWrites(t *testing.T) {
	z := zoneOf(t, "$origin example.com.\r\n$ttl 1d2h\r\n"+ // lower-case directives, CRLF, units
		"@ 60 IN SOA ns hostmaster 1 2 3 4 5\n"+
		"www IN 300 A 192.0.2.1\n"+ // class before the TTL
		"WWW A 192.0.2.1\n"+ // the same record, in other case: kept once
		"www A 192.0.2.2\n"+
		"a\\.b A 192.0.2.3\n"+ // a dot inside a label
		"\\065bc A 192.0.2.4\n"+ // an escaped letter in a name
		"txt TXT \"\" \"(not a paren)\" ab\\;c\n"+ // an empty string; parentheses and ; escaped or quoted
		"v4mapped AAAA ::ffff:192.0.2.5\n"+
		"last 5m CNAME www\n"+
		"$TTL 7\n"+
		"after A 192.0.2.6\n") // $TTL, not the last TTL written
	cases := []struct {
		name   string
		rrtype uint16
		want   string
	}{
		{"example.com.", typeSOA, "60 ns.example.com. hostmaster.example.com. 1 2 3 4 5"},
		{"www.example.com.", typeA, "300 192.0.2.1 | 300 192.0.2.2"},
		{"abc.example.com.", typeA, "93600 192.0.2.4"},
		{"txt.example.com.", typeTXT, `93600 "" "(not a paren)" "ab;c"`},
		{"v4mapped.example.com.", typeAAAA, "93600 ::ffff:192.0.2.5"},
		{"last.example.com.", typeCNAME, "300 www.example.com."},
		{"after.example.com.", typeA, "7 192.0.2.6"},
	}
	for _, tc := range cases {
		if got := strings.Join(setStrings(t, z, tc.name, tc.rrtype), " | "); got != tc.want {
			t.Errorf("%s type %d: %q, want %q", tc.name, tc.rrtype, got, tc.want)
		}
	}
	dotted := z.nodes["\x03a.b\x07example\x03com\x00"]
	if dotted == nil || dotted.set(typeA) == nil {
		t.Errorf("a\\.b: no node with one label \"a.b\"")
	}
}

// TestWithoutTTLDirectiveTheLastTTLIsUsed: RFC 1035's rule, before $TTL existed.
func TestWithoutTTLDirectiveTheLastTTLIsUsed(t *testing.T) {
	z := zoneOf(t, "$ORIGIN example.com.\n@ 100 SOA ns hostmaster 1 2 3 4 5\nwww A 192.0.2.1\nmail 200 A 192.0.2.2\nftp A 192.0.2.3\n")
	for name, ttl := range map[string]string{"www": "100", "mail": "200", "ftp": "200"} {
		if got := setStrings(t, z, name+".example.com.", typeA); len(got) != 1 || !strings.HasPrefix(got[0], ttl+" ") {
			t.Errorf("%s: %q, want TTL %s", name, got, ttl)
		}
	}
}

// TestARecordSetTakesItsFirstTTL: RFC 2181 §5.2 wants one TTL per set.
func TestARecordSetTakesItsFirstTTL(t *testing.T) {
	z := zoneOf(t, zoneHead+"www 300 A 192.0.2.1\nwww 600 A 192.0.2.2\n")
	if got := setStrings(t, z, "www.example.com.", typeA); strings.Join(got, " | ") != "300 192.0.2.1 | 300 192.0.2.2" {
		t.Fatalf("www: %q", got)
	}
}

// TestTheRootZoneLoadsAndAnswers: an apex of one byte (the root) is the edge of
// every suffix walk.
func TestTheRootZoneLoadsAndAnswers(t *testing.T) {
	z := zoneOf(t, ". 3600 IN SOA a.root. b.root. 1 2 3 4 5\nwww. 60 A 192.0.2.1\n")
	got := z.respond(testQuery{id: 1, name: "www.", qtype: typeA}.bytes(), nil)
	want := join(header(1, answerFlags, 1, 1, 0, 0), wireName("www."), u16(typeA), u16(classIN), rr(ptr(12), typeA, 60, a("192.0.2.1")))
	checkBytes(t, got, want)
	m, err := decodeMessage(z.respond(testQuery{id: 2, name: "nothing.", qtype: typeA}.bytes(), nil))
	if err != nil || m.flags&rcodeMask != rcodeNXDomain || len(m.auth) != 1 || m.auth[0].name != "." {
		t.Fatalf("NXDOMAIN in the root zone: %+v, %v", m, err)
	}
}

// TestParseTTL checks the TTL forms, units and limits.
func TestParseTTL(t *testing.T) {
	cases := map[string]int64{
		"0": 0, "3600": 3600, "1h": 3600, "1H30M": 5400, "2w": 1209600, "1d1s": 86401, "1h30": 3630,
		"2147483647": 1<<31 - 1, "2147483648": -1, "99999999999999999999": -1, "3551w": -1, "3550w": 3550 * 604800,
		"": -1, "h": -1, "1x": -1, "1hh": -1, "-1": -1,
	}
	for text, want := range cases {
		got, ok := parseTTL(text)
		if ok != (want >= 0) || ok && int64(got) != want {
			t.Errorf("parseTTL(%q) = %d, %v; want %d", text, got, ok, want)
		}
	}
}
