package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// Every server of a load runs that load's loops, on UDP, sycamore first.
func TestDNSServersRunTheLoadsLoops(t *testing.T) {
	servers := dnsServers("/bin", "/z/bench.test.zone", 2)
	lines := map[string]string{}
	for _, s := range servers {
		if s.Network != "udp" {
			t.Errorf("%s: network %q, want udp", s.Name, s.Network)
		}
		lines[s.Name] = s.Line()
	}
	want := map[string]string{
		"sycamore":  "sycamore-dns -addr {addr} -loops 2 -drain 0s -zone /z/bench.test.zone",
		"miekg/dns": "GOMAXPROCS=2 dns-miekg -addr {addr} -zone /z/bench.test.zone",
	}
	if _, ok := harness.FindTool("nsd"); ok {
		want["nsd"] = "nsd -d # -c nsd.conf: server-count 2, reuseport yes, rrl-ratelimit 0, minimal-responses yes, " +
			"zone bench.test. from bench.test.zone (harness/nsd.go)"
	}
	if servers[0].Name != "sycamore" || len(servers) != len(want) {
		t.Errorf("servers %q, want sycamore first of %d", lines, len(want))
	}
	for name, line := range want {
		if got := lines[name]; !strings.HasSuffix(got, line) {
			t.Errorf("%s: %q, want %q", name, got, line)
		}
	}
}

// A server that answers fast with the wrong rcodes fails the run instead of
// being measured.
func TestCheckRcodesRefusesAnErrorStream(t *testing.T) {
	for _, c := range []struct {
		name   string
		rcodes map[string]int64
		fails  bool
	}{
		{"the file's mix", map[string]int64{"NOERROR": 95000, "NXDOMAIN": 5000}, false},
		{"within a pass", map[string]int64{"NOERROR": 95950, "NXDOMAIN": 5040}, false},
		{"SERVFAIL", map[string]int64{"NOERROR": 95000, "NXDOMAIN": 5000, "SERVFAIL": 1}, true},
		{"REFUSED for all", map[string]int64{"REFUSED": 100000}, true},
		{"NXDOMAIN for all", map[string]int64{"NXDOMAIN": 100000}, true},
		{"no NXDOMAIN", map[string]int64{"NOERROR": 100000}, true},
	} {
		err := checkRcodes(harness.DnsperfResult{Rcodes: c.rcodes})
		if (err != nil) != c.fails {
			t.Errorf("%s: checkRcodes = %v, want failure %v", c.name, err, c.fails)
		}
	}
}

// dnsSample is a dns sample with the figures its table shows.
func dnsSample(qps, perCPU, avg, p99, lost float64) sample {
	s := nanSample()
	s.RPS, s.ReqPerCPU, s.P50, s.P99, s.CPU, s.RSS = qps, perCPU, avg/2, p99, 1, 8<<20
	s.DNS = &dnsFigures{Avg: avg, Lost: lost}
	return s
}

func TestDNSTableShowsLatencyLostAndRatios(t *testing.T) {
	r := &report{}
	r.add("dns", "2 loops", "nsd", dnsSample(100000, 200000, 0.5, 1.5, 0))
	r.add("dns", "2 loops", "sycamore", dnsSample(150000, 250000, 0.4, 1.25, 0))
	r.add("dns", "2 loops", "miekg/dns", dnsSample(50000, 100000, 1, 3, 2))
	wantInMarkdown(t, markdownOf(r),
		"### dns: 2 loops",
		"| server | q/s | latency avg ms | p50 ms | p99 ms | server CPU s | q per CPU-s | RSS | lost | sycamore ÷ it, q/s | sycamore ÷ it, q per CPU-s |",
		"| sycamore | 150k | 0.400 | 0.200 | 1.250 | 1.00 | 250k | 8 MiB | 0 | – | – |",
		"| nsd | 100k | 0.500 | 0.250 | 1.500 | 1.00 | 200k | 8 MiB | 0 | 1.50× | 1.25× |",
		"| miekg/dns | 50k | 1.000 | 0.500 | 3.000 | 1.00 | 100k | 8 MiB | 2 | 3.00× | 2.50× |",
		"- dns: every server is authoritative for bench.test.",
	)
	js, err := json.Marshal(r.Rows[2].Median)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"dns":{"avg_ms":1,"lost":2}`; !strings.Contains(string(js), want) {
		t.Errorf("JSON %s lacks %s", js, want)
	}
}

// A dns load is a row of three panels: queries per second, per CPU-second,
// and the p99 latency.
func TestChartGroupsOfADNSLoadCountQueriesAndLatency(t *testing.T) {
	r := &report{}
	r.add("dns", "1 loop", "sycamore", dnsSample(1, 1, 1, 1, 0))
	wantPanels(t, r, "dns 1 loop: q/s", "dns 1 loop: q/CPU-s", "dns 1 loop: p99 ms (lower is better)")
}
