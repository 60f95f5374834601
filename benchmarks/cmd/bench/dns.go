package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/dnsload"
	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// dnsperf's settings in the dns section, chosen on the two-core machine of
// the published results, where dnsperf and the server share the cores. Four
// clients (source ports) on two threads, 100 queries in flight at most
// (dnsperf's default), no rate cap (-Q): dnsperf then takes about a core
// (2.5 to 3.3 CPU-s of a 3 s run) and the server the rest, so a run is as
// much as the machine carries, CPU-bound, and the server's rate is its
// share of the cores as the scheduler gives it. In 3 s runs against each
// server at two loops: -T 1, or one client, left the servers idle part of
// the time (lower rates, less server CPU); -q 200 lost a few queries a run
// with miekg/dns and with sycamore (each costing dnsperf's 5 s timeout) for
// rates within the noise; eight clients changed nothing beyond the noise.
// Without a cap the latency is mostly the wait behind the other queries in
// flight (Little's law: 100 in flight at 130k q/s is 0.77 ms).
const (
	dnsClients     = 4
	dnsThreads     = 2
	dnsOutstanding = 100
)

// dnsLoad is one load of the dns section: every server with loops threads
// of its own.
type dnsLoad struct {
	name  string
	loops int
}

// dnsLoads are the section's loads: one loop (sycamore -loops 1, NSD
// server-count 1, miekg/dns with GOMAXPROCS=1) and two.
var dnsLoads = []dnsLoad{{"1 loop", 1}, {"2 loops", 2}}

// dnsServers are the servers of one load, sycamore first: sycamore's
// examples/dns at -loops loops, NSD with server-count loops, and the
// miekg/dns peer with GOMAXPROCS=loops (it has no loop count: miekg/dns
// starts a goroutine per query, and GOMAXPROCS bounds how many run at once).
// Each serves zoneFile on UDP (sycamore's and NSD's on TCP too, for
// truncated answers, which this zone never needs).
func dnsServers(bin, zoneFile string, loops int) []harness.Server {
	syc := sycamore(bin, "dns", "dns", loops, "-zone", zoneFile)
	syc.Network = "udp"
	servers := []harness.Server{syc}
	if nsd, ok := harness.NSD(dnsload.Origin, zoneFile, loops); ok {
		servers = append(servers, nsd)
	}
	miekg := peer(bin, "dns-miekg", "miekg/dns", "dns", "-zone", zoneFile)
	miekg.Network, miekg.Env = "udp", []string{"GOMAXPROCS=" + strconv.Itoa(loops)}
	return append(servers, miekg)
}

// runDNS runs the dns section: sycamore's examples/dns, NSD and the
// miekg/dns peer, authoritative for one zone (internal/dnsload: 1,000 hosts),
// under dnsperf reading a file of mostly A queries that hit, with AAAA hits,
// NXDOMAINs and NODATAs among them; see dnsClients for the settings. Every
// server must first answer one query of each kind right (dnsload.Check) and
// then, under load, give every query the rcode the file calls for, or the
// section fails. Lost queries (no answer within dnsperf's 5 s) are reported
// and flagged as a warning.
func runDNS(ctx context.Context, cfg config, bin string, rep *report) error {
	if !harness.Have("dnsperf") {
		rep.skip("dns", "dnsperf is not installed (apt-get install dnsperf)")
		return nil
	}
	if _, ok := harness.FindTool("nsd"); !ok {
		rep.skip("dns", "nsd: not installed (apt-get install nsd)")
	}
	dir, err := os.MkdirTemp("", "sycamore-bench-dns-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files, err := dnsload.Write(dir)
	if err != nil {
		return err
	}
	for _, l := range dnsLoads {
		load := harness.DnsperfLoad{QueryFile: files.Queries, Duration: cfg.dnsDuration,
			Clients: dnsClients, Threads: dnsThreads, Outstanding: dnsOutstanding}
		err := each(ctx, cfg.rounds, dnsServers(bin, files.Zone, l.loops), rep, "dns", func(s harness.Server, p *harness.Proc, _ bool) error {
			smp, err := measureDNS(ctx, cfg, rep, s, p, load)
			if err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			rep.add("dns", l.name, s.Name, smp)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// measureDNS checks p's answers, warms it up, then runs load against it and
// takes its CPU time meanwhile and its RSS after.
func measureDNS(ctx context.Context, cfg config, rep *report, s harness.Server, p *harness.Proc, load harness.DnsperfLoad) (sample, error) {
	if err := dnsload.Check(ctx, p.Addr); err != nil {
		return sample{}, fmt.Errorf("correctness check: %w", err)
	}
	load.Addr = p.Addr
	if cfg.warmup > 0 {
		warm := load
		warm.Duration = cfg.warmup
		if _, err := harness.Dnsperf(ctx, warm); err != nil {
			return sample{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	var res harness.DnsperfResult
	cpu, err := during(p, func() (err error) {
		res, err = harness.Dnsperf(ctx, load)
		return err
	})
	if err != nil {
		return sample{}, err
	}
	if err := checkRcodes(res); err != nil {
		return sample{}, fmt.Errorf("%w (%s)", err, res.Cmd)
	}
	if res.Lost > 0 {
		rep.warn(fmt.Sprintf("dns: %s lost %d of %d queries (%s)", s.Name, res.Lost, res.Sent, res.Cmd))
	}
	rss, _ := p.RSS()
	smp := nanSample()
	smp.RPS, smp.P50, smp.P99, smp.CPU = res.QPS, ms(res.P50), ms(res.P99), cpu
	smp.ReqPerCPU, smp.RSS = perCPU(float64(res.Completed), cpu), float64(rss)
	smp.DNS = &dnsFigures{Avg: ms(res.Avg), Lost: float64(res.Lost)}
	smp.Cmd = fmt.Sprintf("%s; server: %s", res.Cmd, s.Line())
	return smp, nil
}

// checkRcodes fails a run whose responses are not the query file's: any
// rcode but NOERROR and NXDOMAIN, or a count of NXDOMAIN off the file's
// share by more than one pass's worth (dnsperf stops within a pass). A
// server that answers fast and wrongly fails here rather than win.
func checkRcodes(res harness.DnsperfResult) error {
	var total int64
	for rcode, n := range res.Rcodes {
		if rcode != "NOERROR" && rcode != "NXDOMAIN" {
			return fmt.Errorf("%d responses with rcode %s, want NOERROR and NXDOMAIN only", n, rcode)
		}
		total += n
	}
	perPass := dnsload.NXDomainShare * dnsload.QueryLines
	want := dnsload.NXDomainShare * float64(total)
	if got := float64(res.Rcodes["NXDOMAIN"]); math.Abs(got-want) > perPass {
		return fmt.Errorf("%.0f NXDOMAIN of %d responses, want %.0f (±%.0f)", got, total, want, perPass)
	}
	return nil
}

// dnsSettings is the dns section's part of the report's settings line.
func dnsSettings(cfg config) string {
	return fmt.Sprintf("dns: dnsperf -l %v -c %d -T %d -q %d, no -Q", cfg.dnsDuration.Seconds(), dnsClients, dnsThreads, dnsOutstanding)
}

// quickDNSDuration is the dnsperf run of quick mode: long enough for some
// 50,000 queries, a few passes of the query file.
const quickDNSDuration = 500 * time.Millisecond
