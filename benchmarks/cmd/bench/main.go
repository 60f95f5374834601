// Command bench is sycamore's load harness: it builds sycamore's examples and the
// peer servers, starts them one at a time on loopback, drives each with wrk (plain
// and 16-deep pipelined HTTP), redis-benchmark (RESP) and an idle-connection
// client, and prints one markdown table with the ratios of sycamore to each peer.
// It also writes results/latest.json, results/latest.md and results/latest.svg.
//
// Fairness on a small, noisy machine: every server is measured -rounds times, the
// servers taking turns (A B C A B C ...), and the tables report medians. Each
// figure carries the command that produced it.
//
//	go run ./cmd/bench            # the full run (make bench)
//	go run ./cmd/bench -quick     # 1 s runs, Go peers only (make test runs this)
//
// Tools it cannot find (wrk, redis-benchmark, redis-server, nginx, perf) are
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
	flag.BoolVar(&cfg.quick, "quick", false, "1 s runs, one round, Go servers only, 1,000 idle conns: checks the harness works")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of each wrk run")
	flag.IntVar(&cfg.rounds, "rounds", 3, "times each server is measured, taking turns with the others; medians are reported")
	flag.IntVar(&cfg.conns, "c", 128, "wrk connections")
	flag.IntVar(&cfg.threads, "t", 2, "wrk threads")
	flag.IntVar(&cfg.depth, "pipeline", 16, "requests per write in the pipelined load")
	flag.IntVar(&cfg.loops, "loops", runtime.NumCPU(), "sycamore's event loops")
	flag.IntVar(&cfg.idle, "idle", 10000, "connections the idle-memory client holds")
	flag.IntVar(&cfg.redisN, "n", 200000, "requests per redis-benchmark test")
	flag.StringVar(&cfg.out, "out", "results", "directory for latest.json, latest.md and latest.svg")
	flag.StringVar(&only, "only", "http,resp,idle", "sections to run: http, resp, idle (comma-separated)")
	flag.Parse()
	cfg.warmup = time.Second
	if cfg.quick {
		cfg.duration, cfg.warmup, cfg.rounds, cfg.idle, cfg.redisN = time.Second, 200*time.Millisecond, 1, 1000, 20000
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
		Settings: fmt.Sprintf("wrk -t%d -c%d -d%v, pipeline %d, %d round(s), sycamore -loops %d, %d idle conns, redis-benchmark -n %d",
			cfg.threads, cfg.conns, cfg.duration, cfg.depth, cfg.rounds, cfg.loops, cfg.idle, cfg.redisN)}
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
	if cfg.sections["idle"] {
		if err := runIdle(ctx, cfg, bin, rep); err != nil {
			return err
		}
	}
	return rep.write(os.Stdout, cfg.out)
}
