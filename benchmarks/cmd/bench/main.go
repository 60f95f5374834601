// Command bench is sycamore's load harness: it builds sycamore's examples and the
// peer servers, starts them one at a time on loopback, drives each with wrk,
// redis-benchmark, an idle-connection client or a pub/sub client, and prints
// one markdown table per load with the ratios of sycamore to each peer. It
// also writes results/latest.json, results/latest.md and results/latest.svg.
// The sections (-only):
//
//   - http: sycamore's http example against net/http, fasthttp, netpoll, gnet,
//     nbio's nbhttp and nginx, under wrk plain (at -t and at -t1) and 16-deep
//     pipelined (at -t).
//   - resp: sycamore's redis example against redis-server under redis-benchmark
//     (PING_INLINE, SET, GET, unpipelined and 16-deep).
//   - runtime: the echo server of every runtime (sycamore's echo example, gnet,
//     nbio, netpoll, and net with a goroutine per conn) under redis-benchmark's
//     ping_mbulk with 128 conns, unpipelined and 16-deep: an echoed RESP
//     command is a valid reply.
//   - idle: the RSS an idle conn costs sycamore's echo, net echo and netpoll.
//   - https: sycamore's http example with -tls-cert and -tls-key against
//     net/http, fasthttp and nbio's nbhttp serving TLS, all with one throwaway
//     ECDSA P-256 certificate made at the start, under wrk -c64 (-https-duration
//     a run): keep-alive at -t and at -t1, Connection: close at -t and at -t1
//     (a conn and a TLS 1.3 handshake per request, which wrk resumes from its
//     session ticket), and Connection: close with full handshakes (TLS 1.2
//     without tickets, through OPENSSL_CONF); then the RSS an idle TLS conn
//     costs them (-idle-tls conns, each after a full handshake and one GET),
//     and sycamore's echo example against net echo (a goroutine per conn,
//     crypto/tls) with TLS (a full handshake and a 16-byte echo each).
//   - fanout: sycamore's redis example against redis-server under PUBLISH to
//     one channel (this harness's own client, internal/fanout; both servers
//     disconnect a subscriber that owes 1 MiB): 10 reading and 20 non-reading
//     subscribers with 4 publishers, then 1,000 reading subscribers with 2,
//     each publisher -pipeline PUBLISH deep for -fanout-duration. Every
//     reading subscriber must get every message in order, and in the first
//     load every non-reading one must be disconnected, or the run fails.
//   - dns: sycamore's dns example against NSD and a miekg/dns server, all
//     authoritative for one zone of 1,000 hosts (internal/dnsload), under
//     dnsperf (-dns-duration a run, UDP, mostly A queries that hit, with AAAA
//     hits, NXDOMAINs and NODATAs), at one loop and at two (NSD's
//     server-count, miekg/dns's GOMAXPROCS). Every server must answer a query
//     of each kind right first, and give every query the rcode the query file
//     calls for, or the run fails; lost queries are flagged.
//
// In the http and runtime sections, every load of a server's first round is
// followed by a second, separate run of it under perf stat, which counts the
// server's syscalls and context switches per request (n/a without perf).
//
// Fairness on a small, noisy machine: every server is measured -rounds times, the
// servers taking turns (A B C A B C ...), and the tables report medians. Each
// figure carries the command that produced it.
//
//	go run ./cmd/bench            # the full run (make bench)
//	go run ./cmd/bench -quick     # 1 s runs, small -n, Go peers only (make test runs this)
//
// Quick mode also skips the warm-up and, in the http section, the counted runs
// of all but the plain load: wrk runs whole seconds. In the https section it
// runs the Connection: close load at -t only, counts sycamore's run only, and
// holds 100 idle TLS conns. The fanout section publishes for 1 s a load and
// runs redis-server too where it is installed. The dns section runs dnsperf
// for 0.5 s a server and load, NSD too where it is installed.
//
// Tools it cannot find (wrk, redis-benchmark, redis-server, nginx, perf,
// dnsperf, nsd) are
// reported, and what needs them is skipped; the rest is measured.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// config is the run's settings, from flags.
type config struct {
	quick    bool
	duration time.Duration
	warmup   time.Duration
	rounds   int
	conns    int
	threads  int
	depth    int // pipelining depth
	loops    int // sycamore's loops
	idle     int // conns held by the idle client
	redisN   int // requests per redis-benchmark test
	out      string
	sections map[string]bool
	// The https section: TLS conns held by its idle client, and the length of
	// each of its wrk runs.
	idleTLS       int
	httpsDuration time.Duration
	// The fanout section: how long its publishers publish, each load.
	fanoutDuration time.Duration
	// The dns section: the length of each dnsperf run (-l).
	dnsDuration time.Duration
}

func main() {
	cfg := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags() config {
	var cfg config
	var only string
	flag.BoolVar(&cfg.quick, "quick", false, "1 s runs, no warm-up, one round, Go servers only, 1,000 idle conns: checks the harness works")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of each wrk run")
	flag.IntVar(&cfg.rounds, "rounds", 3, "times each server is measured, taking turns with the others; medians are reported")
	flag.IntVar(&cfg.conns, "c", 128, "wrk connections")
	flag.IntVar(&cfg.threads, "t", 2, "wrk threads (the plain load also runs at -t1)")
	flag.IntVar(&cfg.depth, "pipeline", 16, "requests per write in the pipelined load")
	flag.IntVar(&cfg.loops, "loops", runtime.NumCPU(), "event loops of sycamore, gnet and nbio; nginx's workers")
	flag.IntVar(&cfg.idle, "idle", 10000, "connections the idle-memory client holds")
	flag.IntVar(&cfg.redisN, "n", 200000, "requests per redis-benchmark test (resp and runtime)")
	flag.StringVar(&cfg.out, "out", "results", "directory for latest.json, latest.md and latest.svg")
	flag.IntVar(&cfg.idleTLS, "idle-tls", 2000, "TLS connections the idle-memory client holds in the https section")
	flag.DurationVar(&cfg.httpsDuration, "https-duration", 5*time.Second, "length of each wrk run of the https section")
	flag.DurationVar(&cfg.fanoutDuration, "fanout-duration", 5*time.Second, "how long the publishers of each fanout load publish")
	flag.DurationVar(&cfg.dnsDuration, "dns-duration", 5*time.Second, "length of each dnsperf run of the dns section")
	flag.StringVar(&only, "only", "http,resp,runtime,idle,https,fanout,dns", "sections to run: http, resp, runtime, idle, https, fanout, dns (comma-separated)")
	flag.Parse()
	cfg.warmup = time.Second
	if cfg.quick {
		// No warm-up: wrk runs whole seconds, so even a short one costs 1 s a server.
		cfg.duration, cfg.warmup, cfg.rounds, cfg.idle, cfg.redisN = time.Second, 0, 1, 1000, 20000
		cfg.httpsDuration, cfg.idleTLS, cfg.fanoutDuration = time.Second, 100, time.Second
		cfg.dnsDuration = quickDNSDuration
	}
	cfg.sections = map[string]bool{}
	for _, s := range splitComma(only) {
		cfg.sections[s] = true
	}
	return cfg
}

func run(ctx context.Context, cfg config) error {
	bin, err := os.MkdirTemp("", "sycamore-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	fmt.Fprintf(os.Stderr, "bench: building servers in %s\n", bin)
	if err := build(ctx, bin); err != nil {
		return err
	}
	rep := &report{Machine: harness.Machine(), Started: time.Now().UTC().Format(time.RFC3339), Quick: cfg.quick,
		Settings: fmt.Sprintf("wrk -t%d (plain also -t1) -c%d -d%v, pipeline %d, %d round(s), -loops %d, %d idle conns, "+
			"redis-benchmark -n %d (-c %d resp, -c %d runtime); https: wrk -c%d -d%v, %d idle TLS conns; fanout: %v a load; %s",
			cfg.threads, cfg.conns, cfg.duration, cfg.depth, cfg.rounds, cfg.loops, cfg.idle, cfg.redisN, respClients, runtimeClients,
			httpsConns, cfg.httpsDuration, cfg.idleTLS, cfg.fanoutDuration, dnsSettings(cfg))}
	rep.Missing = missingTools()
	if cfg.sections["http"] {
		if err := runHTTP(ctx, cfg, bin, rep); err != nil {
			return err
		}
	}
	if cfg.sections["resp"] {
		if err := runRESP(ctx, cfg, bin, rep); err != nil {
			return err
		}
	}
	if cfg.sections["runtime"] {
		if err := runRuntime(ctx, cfg, bin, rep); err != nil {
			return err
		}
	}
	if cfg.sections["idle"] {
		if err := runIdle(ctx, cfg, bin, rep); err != nil {
			return err
		}
	}
	if cfg.sections["https"] {
		if err := runHTTPS(ctx, cfg, bin, rep); err != nil {
			return err
		}
	}
	if cfg.sections["fanout"] {
		if err := runFanout(ctx, cfg, bin, rep); err != nil {
			return err
		}
	}
	if cfg.sections["dns"] {
		if err := runDNS(ctx, cfg, bin, rep); err != nil {
			return err
		}
	}
	return rep.write(os.Stdout, cfg.out)
}
