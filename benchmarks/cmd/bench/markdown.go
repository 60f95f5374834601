package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/sycamore-go/sycamore/benchmarks/internal/chart"
	"github.com/sycamore-go/sycamore/benchmarks/internal/dnsload"
)

// markdown writes the tables: one per load, sycamore first, with the ratio of
// sycamore's figure to each peer's, then the commands.
func (r *report) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "## sycamore load benchmarks\n\n")
	fmt.Fprintf(b, "- machine: %s\n- started: %s\n- settings: %s\n", r.Machine, r.Started, r.Settings)
	if r.Quick {
		fmt.Fprintf(b, "- quick mode: 1 s runs, no warm-up, one round, Go servers only, syscalls and ctx switches counted on http's plain load only "+
			"(https: one load, counted for sycamore only; fanout: redis-server too; dns: 0.5 s runs, NSD too) — a check that the harness works, not a result\n")
	}
	for _, m := range r.Missing {
		fmt.Fprintf(b, "- not installed: %s\n", m)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(b, "- skipped: %s\n", s)
	}
	for _, s := range r.Unmeasured {
		fmt.Fprintf(b, "- not measured (n/a): %s\n", s)
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(b, "- warning: %s\n", s)
	}
	if r.has("https") {
		fmt.Fprintf(b, "- https: every server serves one throwaway ECDSA P-256 certificate; wrk speaks TLS 1.3 and, after a "+
			"Connection: close, reconnects and resumes its session from a ticket (PSK with ECDHE: no certificate, no signature). "+
			"The full-handshake load points wrk at an OPENSSL_CONF of `MaxProtocol = TLSv1.2` and `Options = -SessionTicket`, "+
			"so that no handshake resumes. new conns/req is the TCP conns accepted on the machine during the run per request (1: a conn per request); "+
			"resumes TLS sessions says whether a second conn of a Go client with a session cache resumed\n")
	}
	if r.has("fanout") {
		fmt.Fprintf(b, "- fanout: every subscriber is on one channel; the publishers pipeline PUBLISH (64-byte messages that name "+
			"publisher and sequence number), and every reading subscriber got every message in order, checked. publishes/s is PUBLISH "+
			"replies over the publishing time; delivered/s the messages all reading subscribers received, over the time until the last "+
			"had every one; per CPU-s divides by the server's CPU time over both; peak RSS is the server's VmHWM, each load on a fresh "+
			"server. Both servers disconnect a subscriber that owes 1 MiB (sycamore `-pubsub-limit 1048576`, redis-server "+
			"`--client-output-buffer-limit 'pubsub 1048576 0 0'`). The clients share the server's cores, so delivered/s is bounded "+
			"by how fast they read, too\n")
	}
	if r.has("dns") {
		fmt.Fprintf(b, "- dns: every server is authoritative for %s (1,000 hosts' A records, AAAA on every tenth, TXT, CNAME; "+
			"internal/dnsload) and answers UDP; dnsperf cycles through %d queries: 80%% A hits, 10%% AAAA hits, 5%% NXDOMAIN, 5%% NODATA. "+
			"Each server first answered one query of each kind right (checked), and every response under load had the rcode the file "+
			"calls for (checked). q/s is dnsperf's completed queries per second, per CPU-s divides the completed queries by the "+
			"server's CPU time over the run; latency avg is dnsperf's, p50 and p99 are from the latency it prints for each response (-v). "+
			"dnsperf keeps %d queries in flight with no rate cap and takes about a core of the machine's, so a run is CPU-bound and "+
			"its latency mostly the wait behind the others. lost is the queries with no answer within dnsperf's 5 s, listed under "+
			"warnings when not 0. Loads: 1 loop (sycamore -loops 1, NSD server-count 1, miekg/dns "+
			"GOMAXPROCS=1) and 2 loops; NSD runs with rrl-ratelimit 0, minimal-responses yes and, at 2, reuseport\n",
			dnsload.Origin, dnsload.QueryLines, dnsOutstanding)
	}
	for _, sl := range r.loads() {
		rows := sortedCopy(r.rowsOf(sl[0], sl[1]))
		fmt.Fprintf(b, "\n### %s: %s\n\n", sl[0], sl[1])
		switch {
		case idleSection(sl[0]):
			idleTable(b, rows)
		case sl[0] == "fanout":
			fanoutTable(b, rows)
		case sl[0] == "dns":
			dnsTable(b, rows)
		case sl[0] == "https":
			loadTable(b, rows, true)
		default:
			loadTable(b, rows, false)
		}
		fmt.Fprintf(b, "\ncommands:\n")
		for _, x := range rows {
			fmt.Fprintf(b, "- %s: `%s`\n", x.Server, x.Median.Cmd)
		}
	}
}

// loadTable writes the table of one load; withTLS adds the https section's
// columns: new conns per request and whether the server resumes TLS sessions.
func loadTable(b *strings.Builder, rows []*row, withTLS bool) {
	syc := sycamoreOf(rows)
	head := "| server | req/s | p50 ms | p99 ms | server CPU s | req per CPU-s | syscalls/req | ctx switches/req | RSS | errors | sycamore ÷ it, req/s | sycamore ÷ it, req per CPU-s |"
	rule := "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	if withTLS {
		head += " new conns/req | resumes TLS sessions |"
		rule += "---:|---:|"
	}
	fmt.Fprintf(b, "%s\n%s\n", head, rule)
	for _, x := range rows {
		m := x.Median
		rr, rc := rateRatios(syc, x)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", x.Server,
			human(m.RPS), fixed(m.P50, 2), fixed(m.P99, 2), fixed(m.CPU, 2), human(m.ReqPerCPU),
			fixed(m.Syscalls, 3), fixed(m.CtxSwitches, 3), bytes(m.RSS), fixed(m.Errors, 0), rr, rc)
		if withTLS {
			fmt.Fprintf(b, " %s | %s |", fixed(m.NewConns, 3), yesNo(m.Resumes))
		}
		b.WriteString("\n")
	}
}

// rateRatios are sycamore's rate and rate per CPU-second over x's, as a
// table's ratio columns show them: "–" on sycamore's own row, or with no
// sycamore row.
func rateRatios(syc, x *row) (rate, perCPU string) {
	if syc == nil || x == syc {
		return "–", "–"
	}
	return ratio(syc.Median.RPS, x.Median.RPS), ratio(syc.Median.ReqPerCPU, x.Median.ReqPerCPU)
}

// fanoutTable writes the table of one fanout load. Every reading subscriber
// gets every message, so delivered per CPU-s is publishes per CPU-s times the
// readers, and one ratio serves both.
func fanoutTable(b *strings.Builder, rows []*row) {
	syc := sycamoreOf(rows)
	fmt.Fprintf(b, "| server | publishes/s | delivered/s | server CPU s | publishes per CPU-s | delivered per CPU-s | peak RSS (VmHWM) | "+
		"slow subscribers disconnected | sycamore ÷ it, publishes/s | sycamore ÷ it, delivered/s | sycamore ÷ it, per CPU-s |\n")
	fmt.Fprintf(b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range rows {
		m, f := x.Median, x.Median.Fanout
		rp, rd, rc := "–", "–", "–"
		if syc != nil && x != syc {
			rp, rd = ratio(syc.Median.RPS, m.RPS), ratio(syc.Median.Fanout.Delivered, f.Delivered)
			rc = ratio(syc.Median.Fanout.DeliveredPerCPU, f.DeliveredPerCPU)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.Server,
			human(m.RPS), human(f.Delivered), fixed(m.CPU, 2), human(m.ReqPerCPU), human(f.DeliveredPerCPU),
			bytes(m.RSS), fixed(f.Disconnected, 0), rp, rd, rc)
	}
}

// dnsTable writes the table of one dns load.
func dnsTable(b *strings.Builder, rows []*row) {
	syc := sycamoreOf(rows)
	fmt.Fprintf(b, "| server | q/s | latency avg ms | p50 ms | p99 ms | server CPU s | q per CPU-s | RSS | lost | "+
		"sycamore ÷ it, q/s | sycamore ÷ it, q per CPU-s |\n")
	fmt.Fprintf(b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range rows {
		m := x.Median
		rq, rc := rateRatios(syc, x)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.Server,
			human(m.RPS), fixed(m.DNS.Avg, 3), fixed(m.P50, 3), fixed(m.P99, 3), fixed(m.CPU, 2), human(m.ReqPerCPU),
			bytes(m.RSS), fixed(m.DNS.Lost, 0), rq, rc)
	}
}

// idleSection reports whether a section measures idle conns (RSS per conn).
func idleSection(section string) bool { return section == "idle" || section == "tls idle" }

func idleTable(b *strings.Builder, rows []*row) {
	syc := sycamoreOf(rows)
	fmt.Fprintf(b, "| server | RSS with the conns | RSS per idle conn | it ÷ sycamore |\n|---|---:|---:|---:|\n")
	for _, x := range rows {
		r := "–"
		if syc != nil && x != syc {
			r = ratio(x.Median.PerConn, syc.Median.PerConn)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", x.Server, bytes(x.Median.RSS), bytes(x.Median.PerConn), r)
	}
}

func human(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return chart.Humanize(v)
}

func bytes(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return chart.HumanBytes(v)
}

func fixed(v float64, digits int) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", digits, v)
}

// chartGroups are the panels of latest.svg: throughput, efficiency and context
// switches of every load (fanout: deliveries instead of context switches;
// dns: the p99 latency), then memory per idle conn (plain, then TLS), which
// come last so that the rows of three panels a load stay whole.
func (r *report) chartGroups() []chart.Group {
	var groups, idle []chart.Group
	for _, sl := range r.loads() {
		rows := sortedCopy(r.rowsOf(sl[0], sl[1]))
		switch sl[0] {
		case "idle":
			idle = append(idle, group("RSS per idle conn", "bytes", rows, func(s sample) float64 { return s.PerConn }))
			continue
		case "tls idle":
			idle = append(idle, group("RSS per idle conn: "+sl[1], "bytes", rows, func(s sample) float64 { return s.PerConn }))
			continue
		case "fanout":
			load, _, _ := strings.Cut(sl[1], " (") // the table says who reads; a panel's title has no room
			name := "fanout " + load + ": "
			groups = append(groups, group(name+"publishes/s", "publishes/s", rows, func(s sample) float64 { return s.RPS }),
				group(name+"delivered/s", "msgs/s", rows, func(s sample) float64 { return s.Fanout.Delivered }),
				group(name+"delivered/CPU-s", "msgs/CPU-s", rows, func(s sample) float64 { return s.Fanout.DeliveredPerCPU }))
			continue
		case "dns":
			name := "dns " + sl[1] + ": "
			groups = append(groups, group(name+"q/s", "q/s", rows, func(s sample) float64 { return s.RPS }),
				group(name+"q/CPU-s", "q/CPU-s", rows, func(s sample) float64 { return s.ReqPerCPU }),
				group(name+"p99 ms (lower is better)", "ms", rows, func(s sample) float64 { return s.P99 }))
			continue
		}
		// Three panels a load, so that each load is one row of the grid (two where
		// no context switches were counted).
		name := sl[0] + " " + sl[1] + ": "
		groups = append(groups, group(name+"req/s", "req/s", rows, func(s sample) float64 { return s.RPS }))
		groups = append(groups, group(name+"req/CPU-s", "req/CPU-s", rows, func(s sample) float64 { return s.ReqPerCPU }))
		if anyMeasured(rows, func(s sample) float64 { return s.CtxSwitches }) {
			groups = append(groups, group(name+"ctx switches/req", "ctx switches/req", rows, func(s sample) float64 { return s.CtxSwitches }))
		}
	}
	return append(groups, idle...)
}

// anyMeasured reports whether f is a figure (not n/a) for some row: a panel of
// n/a bars (the resp section counts no context switches) is left out.
func anyMeasured(rows []*row, f func(sample) float64) bool {
	for _, x := range rows {
		if !math.IsNaN(f(x.Median)) {
			return true
		}
	}
	return false
}

func group(title, unit string, rows []*row, f func(sample) float64) chart.Group {
	g := chart.Group{Title: title, Unit: unit, Highlight: "sycamore"}
	for _, x := range rows {
		g.Bars = append(g.Bars, chart.Bar{Label: x.Server, Value: f(x.Median)})
	}
	return g
}
