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
// second; NaN means not measured (Syscalls without perf).
type sample struct {
	RPS       float64 `json:"rps"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	CPU       float64 `json:"cpu_s"`       // server utime+stime during the run
	ReqPerCPU float64 `json:"req_per_cpu"` // requests per server CPU-second
	Syscalls  float64 `json:"syscalls_per_req"`
	RSS       float64 `json:"rss_bytes"`
	PerConn   float64 `json:"rss_per_idle_conn"` // idle section only
	Errors    float64 `json:"errors"`
	Cmd       string  `json:"cmd"`
}

// nan is the value of a figure that was not measured.
var nan = math.NaN()

// measureWrk runs one wrk load against p and measures the server meanwhile:
// CPU time from /proc before and after, and RSS at the end. With countSyscalls
// it then runs the load again, shorter, under perf stat for the syscalls per
// request: a tracepoint on every syscall slows the server down, so throughput
// and CPU are never measured with perf attached.
func measureWrk(ctx context.Context, cfg config, p *harness.Proc, url string, depth int, countSyscalls bool) (sample, error) {
	cpu0, err := p.CPU()
	if err != nil {
		return sample{}, err
	}
	res, err := harness.Wrk(ctx, url, cfg.threads, cfg.conns, cfg.duration, depth)
	if err != nil {
		return sample{}, err
	}
	cpu1, err := p.CPU()
	if err != nil {
		return sample{}, err
	}
	rss, _ := p.RSS()
	cpu := (cpu1 - cpu0).Seconds()
	s := sample{
		RPS: res.RPS, P50: ms(res.P50), P99: ms(res.P99), CPU: cpu,
		ReqPerCPU: perCPU(float64(res.Requests), cpu), RSS: float64(rss),
		Errors: float64(res.Errors), Cmd: res.Cmd, Syscalls: nan, PerConn: nan,
	}
	if countSyscalls {
		s.Syscalls = syscallsPerRequest(ctx, cfg, p, url, depth)
	}
	return s, nil
}

// perfSpan is how long the syscall-counting run lasts: the ratio settles
// within a second or two.
const perfSpan = 3 * time.Second

// syscallsPerRequest runs the load under perf stat and divides the syscall rate
// by the request rate of the same span; NaN when perf is unavailable.
func syscallsPerRequest(ctx context.Context, cfg config, p *harness.Proc, url string, depth int) float64 {
	span := min(cfg.duration, perfSpan)
	perf := startPerf(ctx, p.Pid, span)
	res, err := harness.Wrk(ctx, url, cfg.threads, cfg.conns, span, depth)
	rate, ok := perf.rate()
	if err != nil || !ok || res.RPS <= 0 {
		return nan
	}
	return rate / res.RPS
}

// perfRun is a perf stat running beside a load.
type perfRun struct {
	done  chan struct{}
	count int64
	ok    bool
	why   string
	dur   time.Duration
}

func startPerf(ctx context.Context, pid int, dur time.Duration) *perfRun {
	r := &perfRun{done: make(chan struct{}), dur: dur}
	go func() {
		defer close(r.done)
		r.count, r.ok, r.why = harness.PerfSyscalls(ctx, pid, dur)
	}()
	return r
}

// rate waits for perf and returns syscalls per second.
func (r *perfRun) rate() (float64, bool) {
	<-r.done
	if !r.ok || r.dur <= 0 {
		return 0, false
	}
	return float64(r.count) / r.dur.Seconds(), true
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perCPU(requests, cpu float64) float64 {
	if cpu <= 0 {
		return nan
	}
	return requests / cpu
}

// each starts every server in turn, rounds times (A B C A B C ...), and calls f
// with it running; a server that fails to start is reported and skipped.
func each(ctx context.Context, rounds int, servers []harness.Server, rep *report, section string,
	f func(s harness.Server, p *harness.Proc) error) error {
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
			err = f(s, p)
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
	if !math.IsNaN(s.PerConn) {
		return fmt.Sprintf("%.0f B per idle conn", s.PerConn)
	}
	return fmt.Sprintf("%.0f req/s, %.0f req per CPU-s, %.3f syscalls/req", s.RPS, s.ReqPerCPU, s.Syscalls)
}

// MarshalJSON writes NaN (not measured) as null, which JSON can carry.
func (s sample) MarshalJSON() ([]byte, error) {
	v := func(x float64) any {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	}
	return json.Marshal(map[string]any{
		"rps": v(s.RPS), "p50_ms": v(s.P50), "p99_ms": v(s.P99), "cpu_s": v(s.CPU),
		"req_per_cpu": v(s.ReqPerCPU), "syscalls_per_req": v(s.Syscalls), "rss_bytes": v(s.RSS),
		"rss_per_idle_conn": v(s.PerConn), "errors": v(s.Errors), "cmd": s.Cmd,
	})
}
