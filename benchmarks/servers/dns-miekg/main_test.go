package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sycamore-go/sycamore/benchmarks/internal/dnsload"
	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peertest"
)

func TestMain(m *testing.M) { peertest.Main(m, main) }

// The server, started as the harness starts it, passes the dns section's
// check on the benchmark zone.
func TestAnswersTheBenchmarkZone(t *testing.T) {
	files, err := dnsload.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := peertest.StartUDP(t, "dns", "-zone", files.Zone)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dnsload.Check(ctx, p.Addr); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, p.Log())
	}
}

// A response too big for 512 bytes, to a query without EDNS, is cut to fit
// and marked truncated, so that the client asks again over TCP.
func TestBigAnswerWithoutEDNSIsTruncated(t *testing.T) {
	var zone strings.Builder
	zone.WriteString("$ORIGIN z.test.\n$TTL 60\n@ IN SOA ns hm 1 2 3 4 5\n")
	for i := range 20 {
		fmt.Fprintf(&zone, "big IN TXT \"%d %s\"\n", i, strings.Repeat("x", 100))
	}
	p := peertest.StartUDP(t, "dns", "-zone", writeZone(t, zone.String()))
	req := new(dns.Msg).SetQuestion("big.z.test.", dns.TypeTXT)
	resp, err := dns.Exchange(req, p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Compress = true // as it came: Len counts the names in full otherwise
	if !resp.Truncated || resp.Len() > dns.MinMsgSize {
		t.Fatalf("response of %d bytes, truncated %v; want at most 512, truncated", resp.Len(), resp.Truncated)
	}
}

func writeZone(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "z.zone")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testZone is a zone with a CNAME chain, a CNAME out of the zone and an
// empty non-terminal (b.z.test., above a.b.z.test.).
const testZone = `$ORIGIN z.test.
$TTL 60
@ IN SOA ns hm 1 2 3 4 30
@ IN NS ns
ns IN A 127.0.0.1
a.b IN A 10.0.0.1
www IN CNAME alias
alias IN CNAME a.b
out IN CNAME example.org.
`

func loadTestZone(t *testing.T) *zone {
	t.Helper()
	z, err := loadZone(writeZone(t, testZone))
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func ask(z *zone, name string, qtype uint16) *dns.Msg {
	return z.answer(new(dns.Msg).SetQuestion(name, qtype))
}

func TestCNAMEChainIsFollowedInsideTheZone(t *testing.T) {
	resp := ask(loadTestZone(t), "WWW.z.test.", dns.TypeA)
	if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative || len(resp.Answer) != 3 ||
		resp.Answer[2].(*dns.A).A.String() != "10.0.0.1" {
		t.Fatalf("www A = %v", resp)
	}
	out := ask(loadTestZone(t), "out.z.test.", dns.TypeA)
	if out.Rcode != dns.RcodeSuccess || len(out.Answer) != 1 || len(out.Ns) != 0 {
		t.Fatalf("out A = %v, want the CNAME alone: its target is another zone's", out)
	}
}

// Negative answers carry the SOA with the TTL of its MINIMUM field (30 s),
// the lesser of the two (RFC 2308).
func TestNegativeAnswersCarryTheSOA(t *testing.T) {
	z := loadTestZone(t)
	for _, c := range []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"nope.z.test.", dns.TypeA, dns.RcodeNameError},
		{"a.b.z.test.", dns.TypeAAAA, dns.RcodeSuccess},
		{"b.z.test.", dns.TypeA, dns.RcodeSuccess}, // an empty non-terminal exists
	} {
		resp := ask(z, c.name, c.qtype)
		if resp.Rcode != c.rcode || len(resp.Answer) != 0 || len(resp.Ns) != 1 || resp.Ns[0].Header().Ttl != 30 ||
			!resp.Authoritative {
			t.Errorf("%s %s = %v, want %s with the SOA, TTL 30", c.name, dns.TypeToString[c.qtype], resp, dns.RcodeToString[c.rcode])
		}
	}
	if z.soa.Hdr.Ttl != 60 {
		t.Errorf("the zone's own SOA TTL became %d", z.soa.Hdr.Ttl)
	}
}

func TestNameOutsideTheZoneIsRefused(t *testing.T) {
	resp := ask(loadTestZone(t), "example.org.", dns.TypeA)
	if resp.Rcode != dns.RcodeRefused || resp.Authoritative {
		t.Fatalf("example.org. A = %v, want REFUSED without AA", resp)
	}
}

func TestZoneFileNotOpeningWithTheSOAIsRefused(t *testing.T) {
	if _, err := loadZone(writeZone(t, "$ORIGIN z.test.\nns 60 IN A 127.0.0.1\n")); err == nil ||
		!strings.Contains(err.Error(), "not the SOA") {
		t.Fatalf("loadZone = %v, want an error about the SOA", err)
	}
}
