package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

func TestHTTPLoadsAddPlainAtT1UnlessTIsOne(t *testing.T) {
	got := httpLoads(config{threads: 2, depth: 16})
	want := []httpLoad{{"plain", 2, 1}, {"plain wrk -t1", 1, 1}, {"pipelined-16", 2, 16}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("httpLoads(-t 2) = %v, want %v", got, want)
	}
	got = httpLoads(config{threads: 1, depth: 16})
	want = []httpLoad{{"plain", 1, 1}, {"pipelined-16", 1, 16}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("httpLoads(-t 1) = %v, want %v", got, want)
	}
}

func TestLoadTableShowsCtxSwitchesBesideSyscalls(t *testing.T) {
	r := &report{}
	load := "echo, PING_MBULK -P 1"
	r.add("runtime", load, "sycamore", sample{RPS: 50000, P50: 1, P99: nan, CPU: 1, ReqPerCPU: 50000,
		Syscalls: 2.5, CtxSwitches: 0.25, RSS: 1 << 20, PerConn: nan, Errors: nan})
	r.add("runtime", load, "gnet", sample{RPS: 40000, P50: 1, P99: nan, CPU: 1, ReqPerCPU: 40000,
		Syscalls: nan, CtxSwitches: nan, RSS: 1 << 20, PerConn: nan, Errors: nan})
	r.unmeasured("perf is not installed")
	wantInMarkdown(t, markdownOf(r),
		"### runtime: "+load,
		"| syscalls/req | ctx switches/req | RSS |",
		"| sycamore | 50k | 1.00 | n/a | 1.00 | 50k | 2.500 | 0.250 |",
		"| gnet | 40k | 1.00 | n/a | 1.00 | 40k | n/a | n/a |",
		"- not measured (n/a): perf is not installed",
	)
}

// Each load is a row of three panels (req/s, req/CPU-s, ctx switches/req); a load
// whose context switches were not counted (resp) gets no panel of n/a bars.
func TestChartGroupsLeaveOutPanelsOfNothingMeasured(t *testing.T) {
	r := &report{}
	r.add("runtime", "echo -P 1", "sycamore", sample{RPS: 1, ReqPerCPU: 1, CtxSwitches: 0.2, P50: nan, P99: nan, CPU: 1, Syscalls: nan, RSS: nan, PerConn: nan, Errors: nan})
	r.add("resp", "GET -P 1", "sycamore", sample{RPS: 1, ReqPerCPU: 1, CtxSwitches: nan, P50: nan, P99: nan, CPU: 1, Syscalls: nan, RSS: nan, PerConn: nan, Errors: nan})
	wantPanels(t, r, "runtime echo -P 1: req/s", "runtime echo -P 1: req/CPU-s", "runtime echo -P 1: ctx switches/req",
		"resp GET -P 1: req/s", "resp GET -P 1: req/CPU-s")
}

// wantPanels takes r's medians and checks the titles of its chart's panels.
func wantPanels(t *testing.T, r *report, want ...string) {
	t.Helper()
	r.medians()
	var titles []string
	for _, g := range r.chartGroups() {
		titles = append(titles, g.Title)
	}
	if strings.Join(titles, "|") != strings.Join(want, "|") {
		t.Errorf("chart panels %q, want %q", titles, want)
	}
}

func TestHTTPSLoadsKeepAliveThenAConnPerRequest(t *testing.T) {
	var names []string
	for _, l := range httpsLoads(config{threads: 2}) {
		names = append(names, l.name)
	}
	want := []string{"keep-alive", "keep-alive wrk -t1", "Connection: close (TLS 1.3 resumed)",
		"Connection: close (TLS 1.3 resumed) wrk -t1", "Connection: close (TLS 1.2 full handshake)"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("httpsLoads(-t 2) = %q, want %q", names, want)
	}
	if got := httpsLoads(config{threads: 2, quick: true}); len(got) != 1 || !got[0].close || got[0].full {
		t.Errorf("httpsLoads(-quick) = %+v, want the one Connection: close load", got)
	}

	cfg := config{threads: 2, httpsDuration: 5 * time.Second}
	full := httpsLoad{name: "full", threads: 2, close: true, full: true}.wrkLoad(cfg, "https://a/plaintext", "OPENSSL_CONF=/x.cnf")
	want2 := harness.WrkLoad{URL: "https://a/plaintext", Threads: 2, Conns: 64, Duration: 5 * time.Second, Pipeline: 1,
		Headers: []string{"Connection: close"}, Env: []string{"OPENSSL_CONF=/x.cnf"}}
	if !reflect.DeepEqual(full, want2) {
		t.Errorf("wrkLoad = %+v, want %+v", full, want2)
	}
	if ka := (httpsLoad{threads: 1}).wrkLoad(cfg, "https://a/", "OPENSSL_CONF=/x.cnf"); ka.Headers != nil || ka.Env != nil || ka.Threads != 1 {
		t.Errorf("keep-alive wrkLoad = %+v, want no header, no environment", ka)
	}
}

// The https tables add new conns per request and TLS resumption; the idle TLS
// tables are idle tables; a warning is listed.
func TestHTTPSTablesAndWarnings(t *testing.T) {
	r := &report{}
	r.add("https", "Connection: close", "nbhttp", sample{RPS: 2000, P50: 1, P99: 2, CPU: 1, ReqPerCPU: 2000,
		Syscalls: nan, CtxSwitches: nan, RSS: 1 << 20, PerConn: nan, Errors: 0, NewConns: 1.02, Resumes: 0})
	r.add("https", "Connection: close", "sycamore", sample{RPS: 3000, P50: 1, P99: 2, CPU: 1, ReqPerCPU: 3000,
		Syscalls: 18, CtxSwitches: 2, RSS: 1 << 20, PerConn: nan, Errors: 0, NewConns: 1.01, Resumes: 1})
	r.add("tls idle", "2000 idle TLS conns, echo", "sycamore", sample{RPS: nan, P50: nan, P99: nan, CPU: nan, ReqPerCPU: nan,
		Syscalls: nan, CtxSwitches: nan, RSS: 30 << 20, PerConn: 12 << 10, Errors: nan, NewConns: nan, Resumes: nan})
	r.add("tls idle", "2000 idle TLS conns, echo", "net echo", sample{RPS: nan, P50: nan, P99: nan, CPU: nan, ReqPerCPU: nan,
		Syscalls: nan, CtxSwitches: nan, RSS: 60 << 20, PerConn: 30 << 10, Errors: nan, NewConns: nan, Resumes: nan})
	r.warn("https keep-alive: x: 0.01 new conns per request")
	wantInMarkdown(t, markdownOf(r),
		"| errors | sycamore ÷ it, req/s | sycamore ÷ it, req per CPU-s | new conns/req | resumes TLS sessions |",
		"| sycamore | 3k | 1.00 | 2.00 | 1.00 | 3k | 18.000 | 2.000 | 1 MiB | 0 | – | – | 1.010 | yes |",
		"| nbhttp | 2k | 1.00 | 2.00 | 1.00 | 2k | n/a | n/a | 1 MiB | 0 | 1.50× | 1.50× | 1.020 | no |",
		"### tls idle: 2000 idle TLS conns, echo",
		"| net echo | 60 MiB | 30 KiB | 2.50× |",
		"- warning: https keep-alive: x: 0.01 new conns per request",
		"- https: every server serves one throwaway ECDSA P-256 certificate",
	)
}

// The idle panels, plain and TLS, come after every load's row of panels.
func TestChartGroupsPutIdlePanelsLast(t *testing.T) {
	r := &report{}
	idle := sample{RPS: nan, ReqPerCPU: nan, CtxSwitches: nan, PerConn: 100}
	r.add("idle", "10000 idle conns", "sycamore", idle)
	r.add("https", "keep-alive", "sycamore", sample{RPS: 1, ReqPerCPU: 1, CtxSwitches: 0.1})
	r.add("tls idle", "2000 idle TLS conns, echo", "sycamore", idle)
	wantPanels(t, r, "https keep-alive: req/s", "https keep-alive: req/CPU-s", "https keep-alive: ctx switches/req",
		"RSS per idle conn", "RSS per idle conn: 2000 idle TLS conns, echo")
}

func TestFanoutLoadsTakeDepthAndDuration(t *testing.T) {
	loads := fanoutLoads(config{depth: 16, fanoutDuration: 3 * time.Second})
	if len(loads) != 2 {
		t.Fatalf("fanoutLoads = %+v, want the slow-subscribers load and the 1,000-subscribers load", loads)
	}
	slow, many := loads[0].load, loads[1].load
	if slow.Readers != 10 || slow.Stalled != 20 || slow.Publishers != 4 || many.Readers != 1000 || many.Stalled != 0 {
		t.Errorf("fanoutLoads = %+v", loads)
	}
	for _, l := range loads {
		if l.load.Depth != 16 || l.load.Duration != 3*time.Second {
			t.Errorf("%s: depth %d, duration %v; want 16, 3s", l.name, l.load.Depth, l.load.Duration)
		}
	}
}

// Both servers disconnect a subscriber at the same 1 MiB; sycamore runs the
// resp section's loops.
func TestFanoutServersShareTheOneMiBLimit(t *testing.T) {
	servers := fanoutServers("/bin")
	if got, want := servers[0].Line(), "sycamore-redis -addr {addr} -loops 2 -drain 0s -pubsub-limit 1048576"; got != want {
		t.Errorf("sycamore: %q, want %q", got, want)
	}
	if len(servers) < 2 {
		t.Skip("redis-server is not installed")
	}
	if got := servers[1].Line(); !strings.HasSuffix(got, " --client-output-buffer-limit 'pubsub 1048576 0 0'") {
		t.Errorf("redis-server: %q, want the pubsub limit last", got)
	}
}

func TestFanoutTableShowsDeliveriesAndDisconnects(t *testing.T) {
	r := &report{}
	load := "slow subscribers"
	for _, x := range []struct {
		server                       string
		publishes, delivered, perCPU float64
	}{{"redis-server", 200000, 2e6, 3e6}, {"sycamore", 300000, 3e6, 3.3e6}} {
		s := nanSample()
		s.RPS, s.CPU, s.ReqPerCPU, s.RSS = x.publishes, 1, x.perCPU/10, 40<<20
		s.Fanout = &fanoutFigures{Delivered: x.delivered, DeliveredPerCPU: x.perCPU, Disconnected: 20}
		r.add("fanout", load, x.server, s)
	}
	many := nanSample()
	many.RPS, many.Fanout = 3000, &fanoutFigures{Delivered: 3e6, DeliveredPerCPU: 3e6, Disconnected: nan}
	r.add("fanout", "1,000 subscribers", "sycamore", many)
	wantInMarkdown(t, markdownOf(r),
		"### fanout: slow subscribers",
		"| server | publishes/s | delivered/s | server CPU s | publishes per CPU-s | delivered per CPU-s | peak RSS (VmHWM) | slow subscribers disconnected |",
		"| sycamore | 300k | 3M | 1.00 | 330k | 3.3M | 40 MiB | 20 | – | – | – |",
		"| redis-server | 200k | 2M | 1.00 | 300k | 3M | 40 MiB | 20 | 1.50× | 1.50× | 1.10× |",
		"| sycamore | 3k | 3M | n/a | n/a | 3M | n/a | n/a | – | – | – |",
		"- fanout: every subscriber is on one channel",
	)
	js, err := json.Marshal(r.Rows[2].Median)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"fanout":{"delivered_per_cpu":3000000,"delivered_per_s":3000000,"slow_subscribers_disconnected":null}`; !strings.Contains(string(js), want) {
		t.Errorf("JSON %s lacks %s", js, want)
	}
}

// markdownOf is r's markdown report, medians taken.
func markdownOf(r *report) string {
	r.medians()
	var b strings.Builder
	r.markdown(&b)
	return b.String()
}

// wantInMarkdown fails t for every one of wants that md lacks.
func wantInMarkdown(t *testing.T, md string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
