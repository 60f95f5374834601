package dnsload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Errors of Check, wrapped with the query and what came back.
var (
	// ErrNoResponse is a query that got no response in time, every try.
	ErrNoResponse = errors.New("dnsload: no response")
	// ErrWrongAnswer is a response that is not what the zone says: the
	// wrong rcode, a missing AA bit, an answer with the wrong address, a
	// negative answer without the SOA.
	ErrWrongAnswer = errors.New("dnsload: wrong answer")
)

// Check's bounds: each query waits checkWait for its response, and is sent
// at most checkTries times, as dig does (UDP on loopback drops nothing, but
// a server's first packet may find it still setting up).
const (
	checkWait  = time.Second
	checkTries = 3
)

// Check sends each of Samples to the server at addr over UDP, one at a time,
// and checks every response with Verify: a server that answers wrongly, or
// not at all, fails before it is measured, rather than be measured sending
// errors fast.
func Check(ctx context.Context, addr string) error {
	client := &dns.Client{Net: "udp", Timeout: checkWait}
	for _, q := range Samples() {
		req := q.Msg()
		resp, err := exchange(ctx, client, req, addr)
		if err != nil {
			return fmt.Errorf("%w: %s %s to %s: %v", ErrNoResponse, q.Name, q.Type, addr, err)
		}
		if err := Verify(q, req, resp); err != nil {
			return err
		}
	}
	return nil
}

// exchange sends req and returns the response with its ID (the client checks
// it), trying again after a timeout.
func exchange(ctx context.Context, client *dns.Client, req *dns.Msg, addr string) (*dns.Msg, error) {
	var err error
	for range checkTries {
		var resp *dns.Msg
		resp, _, err = client.ExchangeContext(ctx, req, addr)
		if err == nil {
			return resp, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// Msg returns q as a query message: recursion not desired, as dnsperf sends
// it to an authoritative server without -e (no EDNS).
func (q Query) Msg() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(q.Name, dns.StringToType[q.Type])
	m.RecursionDesired = false
	return m
}

// Verify checks resp, the response to req, against the zone: a response
// (QR) with the AA bit, not truncated, req's question echoed, the rcode of
// q's Kind, and then for a hit exactly one answer, of q's type and name and
// the address the zone holds, and for a negative answer (NXDOMAIN, NODATA)
// none, with the zone's SOA in the authority section.
func Verify(q Query, req, resp *dns.Msg) error {
	wrong := func(want string) error {
		return fmt.Errorf("%w: %s %s: want %s; got %s", ErrWrongAnswer, q.Name, q.Type, want, summary(resp))
	}
	if !resp.Response || !resp.Authoritative || resp.Truncated {
		return wrong("a response with AA set, not truncated")
	}
	if len(resp.Question) != 1 || !sameQuestion(resp.Question[0], req.Question[0]) {
		return wrong("the question echoed")
	}
	wantRcode := dns.RcodeSuccess
	if q.Kind == NXDomain {
		wantRcode = dns.RcodeNameError
	}
	if resp.Rcode != wantRcode {
		return wrong(dns.RcodeToString[wantRcode])
	}
	switch q.Kind {
	case AHit, AAAAHit:
		want := HostA(q.Host)
		if q.Kind == AAAAHit {
			want = HostAAAA(q.Host)
		}
		if len(resp.Answer) != 1 || resp.Answer[0].Header().Rrtype != req.Question[0].Qtype ||
			!addressIs(resp.Answer[0], q.Name, want) {
			return wrong(fmt.Sprintf("one %s answer, %s", q.Type, want))
		}
	default:
		if len(resp.Answer) != 0 || !hasSOA(resp.Ns) {
			return wrong("no answer and the SOA of " + Origin + " in the authority section")
		}
	}
	return nil
}

func sameQuestion(a, b dns.Question) bool {
	return strings.EqualFold(a.Name, b.Name) && a.Qtype == b.Qtype && a.Qclass == b.Qclass
}

// addressIs reports whether rr is a record of name holding want (an A
// record's address may come as 16 bytes, IPv4-mapped).
func addressIs(rr dns.RR, name string, want netip.Addr) bool {
	var ip net.IP
	switch rr := rr.(type) {
	case *dns.A:
		ip = rr.A
	case *dns.AAAA:
		ip = rr.AAAA
	}
	got, ok := netip.AddrFromSlice(ip)
	if want.Is4() {
		got = got.Unmap()
	}
	return ok && got == want && strings.EqualFold(rr.Header().Name, name)
}

func hasSOA(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, Origin) {
			return true
		}
	}
	return false
}

// summary is a response in one line: rcode, flags and sections.
func summary(m *dns.Msg) string {
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{m.Response, "qr"}, {m.Authoritative, "aa"}, {m.Truncated, "tc"}, {m.RecursionAvailable, "ra"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	rrs := func(rrs []dns.RR) string {
		s := make([]string, len(rrs))
		for i, rr := range rrs {
			s[i] = strings.Join(strings.Fields(rr.String()), " ")
		}
		return "[" + strings.Join(s, "; ") + "]"
	}
	return fmt.Sprintf("%s, flags %q, question %v, answer %s, authority %s",
		dns.RcodeToString[m.Rcode], strings.Join(flags, " "), m.Question, rrs(m.Answer), rrs(m.Ns))
}
