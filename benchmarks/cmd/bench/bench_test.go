package main

import (
	"reflect"
	"strings"
	"testing"
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
	r.medians()
	var b strings.Builder
	r.markdown(&b)
	md := b.String()
	for _, want := range []string{
		"### runtime: " + load,
		"| syscalls/req | ctx switches/req | RSS |",
		"| sycamore | 50k | 1.00 | n/a | 1.00 | 50k | 2.500 | 0.250 |",
		"| gnet | 40k | 1.00 | n/a | 1.00 | 40k | n/a | n/a |",
		"- not measured (n/a): perf is not installed",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// Each load is a row of three panels (req/s, req/CPU-s, ctx switches/req); a load
// whose context switches were not counted (resp) gets no panel of n/a bars.
func TestChartGroupsLeaveOutPanelsOfNothingMeasured(t *testing.T) {
	r := &report{}
	r.add("runtime", "echo -P 1", "sycamore", sample{RPS: 1, ReqPerCPU: 1, CtxSwitches: 0.2, P50: nan, P99: nan, CPU: 1, Syscalls: nan, RSS: nan, PerConn: nan, Errors: nan})
	r.add("resp", "GET -P 1", "sycamore", sample{RPS: 1, ReqPerCPU: 1, CtxSwitches: nan, P50: nan, P99: nan, CPU: 1, Syscalls: nan, RSS: nan, PerConn: nan, Errors: nan})
	r.medians()
	var titles []string
	for _, g := range r.chartGroups() {
		titles = append(titles, g.Title)
	}
	want := []string{"runtime echo -P 1: req/s", "runtime echo -P 1: req/CPU-s", "runtime echo -P 1: ctx switches/req",
		"resp GET -P 1: req/s", "resp GET -P 1: req/CPU-s"}
	if strings.Join(titles, "|") != strings.Join(want, "|") {
		t.Errorf("chart panels %q, want %q", titles, want)
	}
}
