package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// httpLoad is one wrk load of the HTTP section.
type httpLoad struct {
	name           string
	threads, depth int
}

// httpLoads are the loads of the HTTP section: plain at wrk's -t (the
// headline figure) and at -t1 (one client thread: less parallel load, more
// idle waits per request), and pipelined at -t.
func httpLoads(cfg config) []httpLoad {
	loads := []httpLoad{{"plain", cfg.threads, 1}}
	if cfg.threads != 1 {
		loads = append(loads, httpLoad{"plain wrk -t1", 1, 1})
	}
	return append(loads, httpLoad{fmt.Sprintf("pipelined-%d", cfg.depth), cfg.threads, cfg.depth})
}

// runHTTP measures every HTTP server under the plain and pipelined wrk loads.
func runHTTP(ctx context.Context, cfg config, bin string, rep *report) error {
	if !harness.Have("wrk") {
		rep.skip("http", "wrk is not installed (apt-get install wrk)")
		return nil
	}
	loads := httpLoads(cfg)
	return each(ctx, cfg.rounds, httpServers(cfg, bin), rep, "http", func(s harness.Server, p *harness.Proc, first bool) error {
		url := "http://" + p.Addr + "/plaintext"
		if cfg.warmup > 0 {
			if _, err := harness.Wrk(ctx, url, cfg.threads, cfg.conns, cfg.warmup, 1); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
		for i, load := range loads {
			// Syscalls and context switches are counted once per server; in
			// quick mode on the plain load only, as a counted wrk run costs a
			// whole second.
			count := first && (i == 0 || !cfg.quick)
			smp, err := measureWrk(ctx, cfg, rep, p, url, load.threads, load.depth, count)
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

// Connections of redis-benchmark (-c) in the RESP and runtime sections.
const (
	respClients    = 50
	runtimeClients = 128
)

// respLoops is the loops of sycamore's RESP example in the resp and fanout
// sections.
const respLoops = 2

// runRESP measures sycamore's RESP example (respLoops loops) against
// redis-server with redis-benchmark, one test at a time so that each gets its
// own CPU figure.
func runRESP(ctx context.Context, cfg config, bin string, rep *report) error {
	if !harness.Have("redis-benchmark") {
		rep.skip("resp", "redis-benchmark is not installed (apt-get install redis-tools)")
		return nil
	}
	servers := []harness.Server{sycamore(bin, "redis", "resp", respLoops)}
	if rs, ok := harness.RedisServer(); ok && !cfg.quick {
		servers = append(servers, rs)
	}
	return each(ctx, cfg.rounds, servers, rep, "resp", func(s harness.Server, p *harness.Proc, _ bool) error {
		for _, depth := range []int{1, cfg.depth} {
			for _, test := range respTests {
				smp, err := measureRedis(ctx, cfg, rep, p, test, respClients, depth, false)
				if err != nil {
					return err
				}
				rep.add("resp", fmt.Sprintf("%s -P %d", strings.ToUpper(test), depth), s.Name, smp)
			}
		}
		return nil
	})
}

// runRuntime measures the echo server of every runtime (sycamore, gnet, nbio,
// netpoll, and net with a goroutine per conn) under redis-benchmark's
// ping_mbulk, unpipelined and pipelined: an echoed RESP command is a valid
// RESP reply, so this is each runtime's cost per message with no protocol
// work at all.
func runRuntime(ctx context.Context, cfg config, bin string, rep *report) error {
	if !harness.Have("redis-benchmark") {
		rep.skip("runtime", "redis-benchmark is not installed (apt-get install redis-tools)")
		return nil
	}
	return each(ctx, cfg.rounds, runtimeServers(cfg, bin), rep, "runtime", func(s harness.Server, p *harness.Proc, first bool) error {
		for _, depth := range []int{1, cfg.depth} {
			// Syscalls and context switches are counted once per server.
			smp, err := measureRedis(ctx, cfg, rep, p, "ping_mbulk", runtimeClients, depth, first)
			if err != nil {
				return err
			}
			rep.add("runtime", fmt.Sprintf("echo, PING_MBULK -P %d", depth), s.Name, smp)
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
	return each(ctx, cfg.rounds, servers, rep, "idle", func(s harness.Server, p *harness.Proc, _ bool) error {
		res, err := harness.IdleConns(ctx, p.Addr, cfg.idle, p)
		if err != nil {
			return err
		}
		rep.add("idle", fmt.Sprintf("%d idle conns", cfg.idle), s.Name, idleSample(res))
		return nil
	})
}
