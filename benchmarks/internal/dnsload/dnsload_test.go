package dnsload

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// parseZone reads Zone() with miekg's zone parser: records by owner name,
// canonical, and type.
func parseZone(t *testing.T) (first dns.RR, names map[string]map[uint16][]dns.RR) {
	t.Helper()
	names = map[string]map[uint16][]dns.RR{}
	zp := dns.NewZoneParser(strings.NewReader(Zone()), "", "zone")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if first == nil {
			first = rr
		}
		name := dns.CanonicalName(rr.Header().Name)
		if names[name] == nil {
			names[name] = map[uint16][]dns.RR{}
		}
		names[name][rr.Header().Rrtype] = append(names[name][rr.Header().Rrtype], rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return first, names
}

func TestZoneOpensWithItsSOAAndHoldsEveryHost(t *testing.T) {
	first, names := parseZone(t)
	if soa, ok := first.(*dns.SOA); !ok || soa.Hdr.Name != Origin || soa.Minttl != soaMinimum {
		t.Fatalf("first record %v, want the SOA of %s", first, Origin)
	}
	counts := map[uint16]int{}
	for _, byType := range names {
		for typ, rrs := range byType {
			counts[typ] += len(rrs)
		}
	}
	want := map[uint16]int{dns.TypeSOA: 1, dns.TypeNS: 2, dns.TypeA: Hosts + 2, dns.TypeAAAA: Hosts / AAAAEvery,
		dns.TypeTXT: Hosts / TXTEvery, dns.TypeCNAME: CNAMEs}
	for typ, n := range want {
		if counts[typ] != n {
			t.Errorf("%d %s records, want %d", counts[typ], dns.TypeToString[typ], n)
		}
	}
	a := names["host513.bench.test."][dns.TypeA][0].(*dns.A)
	if got, _ := netip.AddrFromSlice(a.A); got.Unmap() != HostA(513) || HostA(513).String() != "10.0.2.1" {
		t.Errorf("host513 A %v, want 10.0.2.1", a.A)
	}
	aaaa := names["host990.bench.test."][dns.TypeAAAA][0].(*dns.AAAA)
	if got, _ := netip.AddrFromSlice(aaaa.AAAA); got != HostAAAA(990) || HostAAAA(990).String() != "fd00::3de" {
		t.Errorf("host990 AAAA %v, want fd00::3de", aaaa.AAAA)
	}
}

// Every query of the file gets what its Kind says by the zone, and the file
// holds the announced mix.
func TestQueryFileMatchesTheZone(t *testing.T) {
	_, names := parseZone(t)
	kinds := map[Kind]int{}
	hosts := map[int]bool{}
	for _, q := range QueryList() {
		kinds[q.Kind]++
		byType, exists := names[q.Name]
		has := len(byType[dns.StringToType[q.Type]]) > 0
		switch {
		case q.Kind == NXDomain && exists,
			(q.Kind == AHit || q.Kind == AAAAHit) && !has,
			q.Kind == NoData && (!exists || has):
			t.Errorf("%s %s is not a %s in the zone", q.Name, q.Type, q.Kind)
		}
		if q.Kind == AHit {
			if hosts[q.Host] {
				t.Errorf("host%d is asked for twice", q.Host)
			}
			hosts[q.Host] = true
		}
	}
	want := map[Kind]int{AHit: 800, AAAAHit: 100, NXDomain: 50, NoData: 50}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s queries, want %d", kinds[k], k, n)
		}
	}
	if share := float64(kinds[NXDomain]) / QueryLines; share != NXDomainShare {
		t.Errorf("NXDOMAIN share %v, NXDomainShare says %v", share, NXDomainShare)
	}
	lines := strings.Split(strings.TrimSuffix(Queries(), "\n"), "\n")
	if len(lines) != QueryLines || lines[0] != "host0.bench.test. A" || lines[18] != "nohost0.bench.test. A" {
		t.Errorf("query file: %d lines, first %q, 19th %q", len(lines), lines[0], lines[18])
	}
}

func TestWriteWritesBothFiles(t *testing.T) {
	dir := t.TempDir()
	f, err := Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.Zone != filepath.Join(dir, "bench.test.zone") || f.Queries != filepath.Join(dir, "queries.txt") {
		t.Fatalf("Write = %+v", f)
	}
	for path, want := range map[string]string{f.Zone: Zone(), f.Queries: Queries()} {
		if b, err := os.ReadFile(path); err != nil || string(b) != want {
			t.Errorf("%s: %d bytes, %v; want %d", path, len(b), err, len(want))
		}
	}
}

// answer is what a correct server sends for q: the zone's answer, AA set.
func answer(q Query) *dns.Msg {
	req := q.Msg()
	resp := new(dns.Msg).SetReply(req)
	resp.Authoritative = true
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: soaTTL}
	soa, _ := dns.NewRR(Origin + " 300 IN SOA ns1.bench.test. hostmaster.bench.test. 2024010101 7200 3600 1209600 300")
	switch q.Kind {
	case AHit:
		hdr.Rrtype = dns.TypeA
		resp.Answer = []dns.RR{&dns.A{Hdr: hdr, A: HostA(q.Host).AsSlice()}}
	case AAAAHit:
		hdr.Rrtype = dns.TypeAAAA
		resp.Answer = []dns.RR{&dns.AAAA{Hdr: hdr, AAAA: HostAAAA(q.Host).AsSlice()}}
	case NXDomain:
		resp.Rcode = dns.RcodeNameError
		resp.Ns = []dns.RR{soa}
	case NoData:
		resp.Ns = []dns.RR{soa}
	}
	return resp
}

func TestVerifyAcceptsTheZonesAnswers(t *testing.T) {
	for _, q := range Samples() {
		if err := Verify(q, q.Msg(), answer(q)); err != nil {
			t.Errorf("%s: %v", q.Kind, err)
		}
	}
}

// Each way a server can answer wrongly fails Verify with ErrWrongAnswer.
func TestVerifyRefusesWrongAnswers(t *testing.T) {
	hit, nx, nodata := Samples()[0], Samples()[2], Samples()[3]
	cases := []struct {
		name  string
		q     Query
		spoil func(m *dns.Msg)
	}{
		{"no AA", hit, func(m *dns.Msg) { m.Authoritative = false }},
		{"truncated", hit, func(m *dns.Msg) { m.Truncated = true }},
		{"a query, not a response", hit, func(m *dns.Msg) { m.Response = false }},
		{"another question", hit, func(m *dns.Msg) { m.Question[0].Name = "host2.bench.test." }},
		{"the wrong address", hit, func(m *dns.Msg) { m.Answer[0].(*dns.A).A = net.IPv4(10, 0, 0, 2) }},
		{"two answers", hit, func(m *dns.Msg) { m.Answer = append(m.Answer, m.Answer[0]) }},
		{"SERVFAIL", hit, func(m *dns.Msg) { m.Rcode = dns.RcodeServerFailure }},
		{"NOERROR for a missing name", nx, func(m *dns.Msg) { m.Rcode = dns.RcodeSuccess }},
		{"NXDOMAIN without the SOA", nx, func(m *dns.Msg) { m.Ns = nil }},
		{"NODATA with an answer", nodata, func(m *dns.Msg) { m.Answer = answer(hit).Answer }},
		{"NXDOMAIN for a name that exists", nodata, func(m *dns.Msg) { m.Rcode = dns.RcodeNameError }},
	}
	for _, c := range cases {
		resp := answer(c.q)
		c.spoil(resp)
		if err := Verify(c.q, c.q.Msg(), resp); !errors.Is(err, ErrWrongAnswer) {
			t.Errorf("%s: Verify = %v, want ErrWrongAnswer", c.name, err)
		}
	}
}

// serve answers every query on a loopback UDP socket with respond, until the
// test ends, and returns the socket's address.
func serve(t *testing.T, respond func(q Query, req *dns.Msg) *dns.Msg) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Query{}
	for _, q := range Samples() {
		byName[q.Name+" "+q.Type] = q
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		q := byName[req.Question[0].Name+" "+dns.TypeToString[req.Question[0].Qtype]]
		resp := respond(q, req)
		resp.Id = req.Id
		w.WriteMsg(resp)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestCheckPassesAServerThatAnswersFromTheZone(t *testing.T) {
	addr := serve(t, func(q Query, _ *dns.Msg) *dns.Msg { return answer(q) })
	if err := Check(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
}

// A server that answers every query with host1's address is fast and wrong:
// Check fails at the first negative query, naming it.
func TestCheckFailsAServerThatAnswersEverythingWithOneAddress(t *testing.T) {
	addr := serve(t, func(q Query, _ *dns.Msg) *dns.Msg {
		resp := answer(Samples()[0])
		resp.Question = q.Msg().Question
		return resp
	})
	err := Check(context.Background(), addr)
	if !errors.Is(err, ErrWrongAnswer) || !strings.Contains(err.Error(), "AAAA") {
		t.Fatalf("Check = %v, want ErrWrongAnswer for the AAAA query", err)
	}
}

func TestCheckOfASilentServerFailsWithNoResponse(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := Check(ctx, pc.LocalAddr().String()); !errors.Is(err, ErrNoResponse) {
		t.Fatalf("Check = %v, want ErrNoResponse", err)
	}
}
