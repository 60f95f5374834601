// Command tune finds the right loop count for this machine: it runs one of
// sycamore's examples with 1 … 2×NumCPU loops, unpinned and pinned, under one
// load, then tries every balancer (and SO_REUSEPORT) at the best setting. It
// prints the table, recommends a loop count — the highest throughput whose p99
// latency stays within twice the best p99 seen — and writes a line chart.
//
//	go run ./cmd/tune                        # examples/http, plain wrk load
//	go run ./cmd/tune -load pipelined        # 16 requests per write
//	go run ./cmd/tune -example redis         # examples/redis, redis-benchmark GET -P 16
//	go run ./cmd/tune -quick                 # 1 s runs, up to 2 loops: checks it works
//
// The load generator runs on the same machine and takes CPU from the server;
// on a small machine the best loop count with a remote client may be higher.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

type config struct {
	example  string
	load     string
	duration time.Duration
	maxLoops int
	conns    int
	threads  int
	quick    bool
	out      string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.example, "example", "http", "the example to tune: http (wrk) or redis (redis-benchmark)")
	flag.StringVar(&cfg.load, "load", "plain", "http load: plain or pipelined (16 requests per write)")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of each run")
	flag.IntVar(&cfg.maxLoops, "max-loops", 2*runtime.NumCPU(), "the largest loop count tried")
	flag.IntVar(&cfg.conns, "c", 128, "client connections")
	flag.IntVar(&cfg.threads, "t", 2, "wrk threads")
	flag.BoolVar(&cfg.quick, "quick", false, "1 s runs, at most 2 loops: checks that tune works")
	flag.StringVar(&cfg.out, "out", "results", "directory for tune.json, tune.md and tune.svg")
	flag.Parse()
	if cfg.quick {
		cfg.duration, cfg.maxLoops = time.Second, min(cfg.maxLoops, 2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "tune:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "sycamore-tune-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	exe := filepath.Join(bin, cfg.example)
	build := exec.CommandContext(ctx, "go", "build", "-o", exe, "github.com/sycamore-go/sycamore/examples/"+cfg.example)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build examples/%s: %w", cfg.example, err)
	}
	var results []result
	// Stage 1: the loop count, unpinned and pinned, with the default balancer.
	for loops := 1; loops <= cfg.maxLoops; loops++ {
		for _, pin := range []bool{false, true} {
			r, err := measure(ctx, cfg, exe, setting{loops: loops, pin: pin, balance: "least-connections"})
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	best := recommend(results)
	// Stage 2: every balancer, and SO_REUSEPORT, at the recommended setting.
	for _, b := range []string{"round-robin", "source-hash", "power-of-two"} {
		r, err := measure(ctx, cfg, exe, setting{loops: best.loops, pin: best.pin, balance: b})
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	r, err := measure(ctx, cfg, exe, setting{loops: best.loops, pin: best.pin, balance: "least-connections", reusePort: true})
	if err != nil {
		return err
	}
	results = append(results, r)
	return write(os.Stdout, cfg, results, best)
}

func (cfg config) check() error {
	switch {
	case cfg.example == "http" && !harness.Have("wrk"):
		return fmt.Errorf("wrk is not installed (apt-get install wrk)")
	case cfg.example == "redis" && !harness.Have("redis-benchmark"):
		return fmt.Errorf("redis-benchmark is not installed (apt-get install redis-tools)")
	case cfg.example != "http" && cfg.example != "redis":
		return fmt.Errorf("-example %q: want http or redis", cfg.example)
	case cfg.load != "plain" && cfg.load != "pipelined":
		return fmt.Errorf("-load %q: want plain or pipelined", cfg.load)
	case cfg.maxLoops < 1:
		return fmt.Errorf("-max-loops %d: want 1 or more", cfg.maxLoops)
	}
	return nil
}
