package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// runHTTP measures every HTTP server under plain and pipelined wrk loads.
func runHTTP(ctx context.Context, cfg config, bin string, rep *report) error {
	if !harness.Have("wrk") {
		rep.skip("http", "wrk is not installed (apt-get install wrk)")
		return nil
	}
	loads := []struct {
		name  string
		depth int
	}{{"plain", 1}, {fmt.Sprintf("pipelined-%d", cfg.depth), cfg.depth}}
	measured := map[string]bool{} // servers whose syscalls were counted (once is enough)
	return each(ctx, cfg.rounds, httpServers(cfg, bin), rep, "http", func(s harness.Server, p *harness.Proc) error {
		count := !measured[s.Name]
		measured[s.Name] = true
		url := "http://" + p.Addr + "/plaintext"
		if _, err := harness.Wrk(ctx, url, cfg.threads, cfg.conns, cfg.warmup, 1); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		for _, load := range loads {
			smp, err := measureWrk(ctx, cfg, p, url, load.depth, count)
			if err != nil {
				return err
			}
			rep.add("http", load.name, s.Name, smp)
		}
		return nil
	})
}

// respTests are the redis-benchmark tests of the RESP section.
var respTests = []string{"ping_inline", "set", "get"}

// runRESP measures sycamore's RESP example (2 loops) against redis-server with
// redis-benchmark, one test at a time so that each gets its own CPU figure.
func runRESP(ctx context.Context, cfg config, bin string, rep *report) error {
	if !harness.Have("redis-benchmark") {
		rep.skip("resp", "redis-benchmark is not installed (apt-get install redis-tools)")
		return nil
	}
	servers := []harness.Server{sycamore(bin, "redis", "resp", 2)}
	if rs, ok := harness.RedisServer(); ok && !cfg.quick {
		servers = append(servers, rs)
	}
	return each(ctx, cfg.rounds, servers, rep, "resp", func(s harness.Server, p *harness.Proc) error {
		for _, depth := range []int{1, cfg.depth} {
			for _, test := range respTests {
				cpu0, err := p.CPU()
				if err != nil {
					return err
				}
				res, err := harness.RedisBenchmark(ctx, p.Addr, []string{test}, cfg.redisN, 50, depth)
				if err != nil {
					return err
				}
				cpu1, err := p.CPU()
				if err != nil || len(res) != 1 {
					return fmt.Errorf("redis-benchmark %s: %v (%d results)", test, err, len(res))
				}
				cpu := (cpu1 - cpu0).Seconds()
				rep.add("resp", fmt.Sprintf("%s -P %d", strings.ToUpper(test), depth), s.Name, sample{
					RPS: res[0].RPS, P50: ms(res[0].P50), P99: nan, CPU: cpu,
					ReqPerCPU: perCPU(float64(cfg.redisN), cpu), Syscalls: nan, RSS: nan, PerConn: nan,
					Errors: nan, Cmd: res[0].Cmd,
				})
			}
		}
		return nil
	})
}

// runIdle measures the RSS an idle, once-echoed conn costs each echo server.
func runIdle(ctx context.Context, cfg config, bin string, rep *report) error {
	servers := []harness.Server{
		sycamore(bin, "echo", "echo", cfg.loops),
		peer(bin, "netecho", "net echo", "echo"),
		peer(bin, "netpoll", "netpoll", "echo", "-mode", "echo"),
	}
	return each(ctx, cfg.rounds, servers, rep, "idle", func(s harness.Server, p *harness.Proc) error {
		res, err := harness.IdleConns(ctx, p.Addr, cfg.idle, p)
		if err != nil {
			return err
		}
		rep.add("idle", fmt.Sprintf("%d idle conns", cfg.idle), s.Name, sample{
			RPS: nan, P50: nan, P99: nan, CPU: nan, ReqPerCPU: nan, Syscalls: nan, Errors: nan,
			RSS: float64(res.RSSAfter), PerConn: res.PerConn, Cmd: res.Cmd,
		})
		return nil
	})
}
