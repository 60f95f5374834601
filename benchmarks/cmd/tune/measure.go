package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// setting is one engine configuration tried.
type setting struct {
	loops     int
	pin       bool
	balance   string
	reusePort bool
}

func (s setting) String() string {
	str := fmt.Sprintf("%d loops, %s, %s", s.loops, map[bool]string{false: "unpinned", true: "pinned"}[s.pin], s.balance)
	if s.reusePort {
		str += ", reuseport"
	}
	return str
}

// result is what one setting measured.
type result struct {
	setting
	RPS       float64 `json:"rps"`
	P50, P99  float64 // milliseconds; P99 is NaN for redis-benchmark, which reports p50 only
	CPU       float64 `json:"cpu_s"`
	ReqPerCPU float64 `json:"req_per_cpu"`
	Cmd       string  `json:"cmd"`
}

// measure starts the example with s, drives the load, and stops it.
func measure(ctx context.Context, cfg config, exe string, s setting) (result, error) {
	args := []string{exe, "-addr", "{addr}", "-loops", fmt.Sprint(s.loops), "-balance", s.balance, "-drain", "0s"}
	if s.pin {
		args = append(args, "-pin")
	}
	if s.reusePort {
		args = append(args, "-reuseport")
	}
	kind := map[string]string{"http": "http", "redis": "resp"}[cfg.example]
	p, err := harness.Start(ctx, harness.Server{Name: "sycamore", Kind: kind, Args: args})
	if err != nil {
		return result{}, fmt.Errorf("%v: %w", s, err)
	}
	defer p.Stop()
	cpu0, err := p.CPU()
	if err != nil {
		return result{}, err
	}
	r := result{setting: s, P50: math.NaN(), P99: math.NaN()}
	var requests float64
	switch cfg.example {
	case "http":
		depth := 1
		if cfg.load == "pipelined" {
			depth = 16
		}
		w, err := harness.Wrk(ctx, "http://"+p.Addr+"/plaintext", cfg.threads, cfg.conns, cfg.duration, depth)
		if err != nil {
			return result{}, fmt.Errorf("%v: %w (server log: %s)", s, err, p.Log())
		}
		r.RPS, r.P50, r.P99, r.Cmd, requests = w.RPS, ms(w.P50), ms(w.P99), w.Cmd, float64(w.Requests)
	case "redis":
		n := int(float64(cfg.duration/time.Second) * 300000) // about a run's worth at -P 16
		res, err := harness.RedisBenchmark(ctx, p.Addr, []string{"get"}, n, cfg.conns, 16)
		if err != nil || len(res) != 1 {
			return result{}, fmt.Errorf("%v: redis-benchmark: %v (server log: %s)", s, err, p.Log())
		}
		r.RPS, r.P50, r.Cmd, requests = res[0].RPS, ms(res[0].P50), res[0].Cmd, float64(n)
	}
	cpu1, err := p.CPU()
	if err != nil {
		return result{}, err
	}
	r.CPU = (cpu1 - cpu0).Seconds()
	if r.CPU > 0 {
		r.ReqPerCPU = requests / r.CPU
	}
	fmt.Fprintf(os.Stderr, "tune: %v: %.0f req/s, p99 %.2f ms\n", s, r.RPS, r.P99)
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latency is the figure the recommendation bounds: p99 where measured, else p50.
func (r result) latency() float64 {
	if !math.IsNaN(r.P99) {
		return r.P99
	}
	return r.P50
}

// recommend picks, among the stage-1 results, the highest throughput whose
// latency stays within twice the best latency seen.
func recommend(results []result) result {
	bestLatency := math.Inf(1)
	for _, r := range results {
		if l := r.latency(); l < bestLatency {
			bestLatency = l
		}
	}
	var best result
	for _, r := range results {
		if r.latency() <= 2*bestLatency && r.RPS > best.RPS {
			best = r
		}
	}
	return best
}
