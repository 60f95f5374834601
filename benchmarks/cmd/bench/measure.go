package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// sample is one measurement of one server under one load. Rates are per
// second; NaN means not measured (Syscalls and CtxSwitches without perf).
type sample struct {
	RPS         float64 `json:"rps"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	CPU         float64 `json:"cpu_s"`       // server utime+stime during the run
	ReqPerCPU   float64 `json:"req_per_cpu"` // requests per server CPU-second
	Syscalls    float64 `json:"syscalls_per_req"`
	CtxSwitches float64 `json:"ctx_switches_per_req"`
	RSS         float64 `json:"rss_bytes"`
	PerConn     float64 `json:"rss_per_idle_conn"` // idle sections only
	Errors      float64 `json:"errors"`
	// NewConns is the TCP conns accepted on the machine during a wrk run per
	// request: 1 when every request had a conn (and a TLS handshake) of its
	// own, near 0 under keep-alive; accepts by other processes can only raise
	// it.
	NewConns float64 `json:"new_conns_per_req"`
	// Resumes is 1 when the TLS server resumed a session (a second conn of a Go
	// client with a session cache), 0 when it did not (https section only).
	Resumes float64 `json:"tls_resumes"`
	// Fanout holds the fanout section's own figures; nil elsewhere.
	Fanout *fanoutFigures `json:"fanout,omitempty"`
	// DNS holds the dns section's own figures; nil elsewhere.
	DNS *dnsFigures `json:"dns,omitempty"`
	Cmd string      `json:"cmd"`
}

// fanoutFigures are what the fanout section measures beside publishes per
// second (RPS), publishes per server CPU-second (ReqPerCPU) and the peak RSS
// (RSS).
type fanoutFigures struct {
	Delivered       float64 // messages the reading subscribers received per second, all together
	DeliveredPerCPU float64 // the same per server CPU-second
	// Disconnected is how many non-reading subscribers the server
	// disconnected; NaN in a load without any.
	Disconnected float64
}

// dnsFigures are what the dns section measures beside queries per second
// (RPS), queries per server CPU-second (ReqPerCPU), the latency percentiles
// (P50, P99) and the RSS.
type dnsFigures struct {
	Avg  float64 // dnsperf's average latency, ms
	Lost float64 // queries that got no answer within dnsperf's timeout
}

// nan is the value of a figure that was not measured.
var nan = math.NaN()

// nanSample is a sample with every figure not measured, for a section that
// fills in the few it measures.
func nanSample() sample {
	return sample{RPS: nan, P50: nan, P99: nan, CPU: nan, ReqPerCPU: nan, Syscalls: nan, CtxSwitches: nan,
		RSS: nan, PerConn: nan, Errors: nan, NewConns: nan, Resumes: nan}
}

// idleSample is what an idle-conns measurement fills in: the RSS with the
// conns open and the RSS each costs.
func idleSample(res harness.IdleResult) sample {
	s := nanSample()
	s.RSS, s.PerConn, s.Cmd = float64(res.RSSAfter), res.PerConn, res.Cmd
	return s
}

// measureWrk runs one wrk load (threads, depth) against p and measures the
// server meanwhile: CPU time from /proc before and after, and RSS at the end.
// With count it then runs the load again, shorter, under perf stat, for the
// syscalls and context switches per request (see counted).
func measureWrk(ctx context.Context, cfg config, rep *report, p *harness.Proc, url string, threads, depth int, count bool) (sample, error) {
	return measureLoad(ctx, rep, p, harness.WrkLoad{URL: url, Threads: threads, Conns: cfg.conns, Duration: cfg.duration, Pipeline: depth}, count)
}

// measureLoad is measureWrk for any wrk load: its own conns, duration, headers
// and environment. It also counts the conns accepted meanwhile (NewConns).
func measureLoad(ctx context.Context, rep *report, p *harness.Proc, load harness.WrkLoad, count bool) (sample, error) {
	var res harness.WrkResult
	opens0, openErr := harness.PassiveOpens()
	cpu, err := during(p, func() (err error) {
		res, err = harness.RunWrk(ctx, load)
		return err
	})
	if err != nil {
		return sample{}, err
	}
	opens1, err := harness.PassiveOpens()
	newConns := nan
	if openErr == nil && err == nil && res.Requests > 0 {
		newConns = float64(opens1-opens0) / float64(res.Requests)
	}
	rss, _ := p.RSS()
	s := sample{
		RPS: res.RPS, P50: ms(res.P50), P99: ms(res.P99), CPU: cpu,
		ReqPerCPU: perCPU(float64(res.Requests), cpu), RSS: float64(rss),
		Errors: float64(res.Errors), Cmd: res.Cmd, Syscalls: nan, CtxSwitches: nan, PerConn: nan,
		NewConns: newConns, Resumes: nan,
	}
	if count {
		short := load
		short.Duration = min(load.Duration, perfSpan)
		s.Syscalls, s.CtxSwitches = counted(rep, p, func(perf *harness.Perf) (float64, error) {
			res, err := perf.RunWrk(ctx, short)
			return float64(res.Requests), err
		})
	}
	return s, nil
}

// measureRedis runs one redis-benchmark test of cfg.redisN requests against
// p, clients conns deep, pipelined depth, and measures the server as
// measureWrk does; with count it runs the test again under perf stat.
// redis-benchmark reports no p99 and no errors (it stops at the first).
func measureRedis(ctx context.Context, cfg config, rep *report, p *harness.Proc, test string, clients, depth int, count bool) (sample, error) {
	var res []harness.RedisResult
	cpu, err := during(p, func() (err error) {
		res, err = harness.RedisBenchmark(ctx, p.Addr, []string{test}, cfg.redisN, clients, depth)
		if err == nil && len(res) != 1 {
			err = fmt.Errorf("redis-benchmark %s: %d results, want 1", test, len(res))
		}
		return err
	})
	if err != nil {
		return sample{}, err
	}
	rss, _ := p.RSS()
	s := sample{
		RPS: res[0].RPS, P50: ms(res[0].P50), P99: nan, CPU: cpu,
		ReqPerCPU: perCPU(float64(cfg.redisN), cpu), RSS: float64(rss),
		Errors: nan, Cmd: res[0].Cmd, Syscalls: nan, CtxSwitches: nan, PerConn: nan, NewConns: nan, Resumes: nan,
	}
	if count {
		s.Syscalls, s.CtxSwitches = counted(rep, p, func(perf *harness.Perf) (float64, error) {
			_, err := perf.RedisBenchmark(ctx, p.Addr, []string{test}, cfg.redisN, clients, depth)
			return float64(cfg.redisN), err
		})
	}
	return s, nil
}

// during runs load and returns the CPU seconds p spent meanwhile.
func during(p *harness.Proc, load func() error) (float64, error) {
	cpu0, err := p.CPU()
	if err != nil {
		return 0, err
	}
	if err := load(); err != nil {
		return 0, err
	}
	cpu1, err := p.CPU()
	if err != nil {
		return 0, err
	}
	return (cpu1 - cpu0).Seconds(), nil
}

// perfSpan is how long a counted wrk run lasts: the ratios settle within a
// second or two.
const perfSpan = 3 * time.Second

// counted runs a load once more under perf stat (load returns the requests
// it made) and divides the server's syscalls and context switches over that
// run by its requests: a tracepoint on every syscall slows the server down,
// so throughput and CPU are never measured with perf attached. A figure perf
// could not take is NaN, and the report says why.
func counted(rep *report, p *harness.Proc, load func(*harness.Perf) (requests float64, err error)) (syscalls, ctxSwitches float64) {
	if !harness.Have("perf") {
		rep.unmeasured("syscalls/req and ctx switches/req: perf is not installed")
		return nan, nan
	}
	perf := &harness.Perf{Pid: p.Pid, Events: harness.PerfEvents}
	requests, err := load(perf)
	if err != nil {
		rep.unmeasured("syscalls/req and ctx switches/req: " + harness.OneLine(err.Error(), 300))
		return nan, nan
	}
	if perf.Why != "" {
		rep.unmeasured(perf.Why)
	}
	per := func(event string) float64 {
		if v, ok := perf.PerRequest(event, requests); ok {
			return v
		}
		return nan
	}
	return per(harness.EventSyscalls), per(harness.EventCtxSwitches)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perCPU(requests, cpu float64) float64 {
	if cpu <= 0 {
		return nan
	}
	return requests / cpu
}

// each starts every server in turn, rounds times (A B C A B C ...), and calls f
// with it running, first set in the first round; a server that fails to start
// is reported and skipped.
func each(ctx context.Context, rounds int, servers []harness.Server, rep *report, section string,
	f func(s harness.Server, p *harness.Proc, first bool) error) error {
	for r := 0; r < rounds; r++ {
		for _, s := range servers {
			if err := ctx.Err(); err != nil {
				return err
			}
			p, err := harness.Start(ctx, s)
			if err != nil {
				rep.skip(section, fmt.Sprintf("%s did not start: %v", s.Name, err))
				continue
			}
			err = f(s, p, r == 0)
			p.Stop()
			if err != nil {
				return fmt.Errorf("%s: %s: %w (server log: %s)", section, s.Name, err, p.Log())
			}
		}
	}
	return nil
}

// brief is a one-line summary for the progress log.
func (s sample) brief() string {
	if f := s.Fanout; f != nil {
		line := fmt.Sprintf("%.0f publishes/s, %.0f delivered/s, %.0f delivered per CPU-s, peak RSS %.1f MiB",
			s.RPS, f.Delivered, f.DeliveredPerCPU, s.RSS/(1<<20))
		if !math.IsNaN(f.Disconnected) {
			line += fmt.Sprintf(", %.0f slow subscribers disconnected", f.Disconnected)
		}
		return line
	}
	if d := s.DNS; d != nil {
		return fmt.Sprintf("%.0f q/s, %.0f q per CPU-s, latency avg %.3f ms, p99 %.3f ms, %.0f lost",
			s.RPS, s.ReqPerCPU, d.Avg, s.P99, d.Lost)
	}
	if !math.IsNaN(s.PerConn) {
		return fmt.Sprintf("%.0f B per idle conn", s.PerConn)
	}
	return fmt.Sprintf("%.0f req/s, %.0f req per CPU-s, %.3f syscalls/req, %.3f ctx switches/req",
		s.RPS, s.ReqPerCPU, s.Syscalls, s.CtxSwitches)
}

// MarshalJSON writes NaN (not measured) as null, which JSON can carry.
func (s sample) MarshalJSON() ([]byte, error) {
	v := func(x float64) any {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	}
	m := map[string]any{
		"rps": v(s.RPS), "p50_ms": v(s.P50), "p99_ms": v(s.P99), "cpu_s": v(s.CPU),
		"req_per_cpu": v(s.ReqPerCPU), "syscalls_per_req": v(s.Syscalls), "ctx_switches_per_req": v(s.CtxSwitches),
		"rss_bytes": v(s.RSS), "rss_per_idle_conn": v(s.PerConn), "errors": v(s.Errors),
		"new_conns_per_req": v(s.NewConns), "tls_resumes": v(s.Resumes), "cmd": s.Cmd,
	}
	if f := s.Fanout; f != nil {
		// In the fanout section rps is publishes per second, req_per_cpu
		// publishes per CPU-second and rss_bytes the peak RSS (VmHWM).
		m["fanout"] = map[string]any{"delivered_per_s": v(f.Delivered), "delivered_per_cpu": v(f.DeliveredPerCPU),
			"slow_subscribers_disconnected": v(f.Disconnected)}
	}
	if d := s.DNS; d != nil {
		// In the dns section rps is queries per second and req_per_cpu
		// queries per server CPU-second.
		m["dns"] = map[string]any{"avg_ms": v(d.Avg), "lost": v(d.Lost)}
	}
	return json.Marshal(m)
}
