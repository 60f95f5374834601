package harness

import (
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// RedisServer returns a Server running redis-server on {port} of 127.0.0.1,
// with no persistence (--save "" --appendonly no) and its working directory
// in the temp dir. ok is false if redis-server is not installed.
func RedisServer() (s Server, ok bool) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return Server{}, false
	}
	return Server{
		Name: "redis-server",
		Kind: "resp",
		Args: []string{path, "--port", "{port}", "--bind", "{host}", "--save", "", "--appendonly", "no"},
		Setup: func(dir, _ string) ([]string, error) {
			return []string{"--dir", dir}, nil
		},
	}, true
}

// RedisResult is one test's line of redis-benchmark's CSV report.
type RedisResult struct {
	Test string        // as redis-benchmark names it: "PING_INLINE", "SET", "GET", ...
	RPS  float64       // requests per second
	P50  time.Duration // median latency
	Cmd  string        // the exact command line run
}

// redisGrace bounds a redis-benchmark run: n requests per test at even
// 10,000 requests per second, plus this.
const redisGrace = 30 * time.Second

// RedisBenchmark runs `redis-benchmark -h host -p port -t tests -n n -c
// clients -P pipeline --csv -q` against addr and returns one result per
// test, in the order redis-benchmark reports them. redis-benchmark 7 prints
// a header line "test","rps","avg_latency_ms","min_latency_ms",
// "p50_latency_ms",... and then one line per test; -q is accepted alongside
// --csv and changes nothing. The run is killed if it takes longer than
// len(tests)*n/10000 seconds plus 30 s.
func RedisBenchmark(ctx context.Context, addr string, tests []string, n, clients, pipeline int) ([]RedisResult, error) {
	return redisBenchmark(ctx, nil, addr, tests, n, clients, pipeline)
}

// RedisBenchmark is RedisBenchmark run under perf stat: p.Counts holds the
// server's counts for the run, to divide by the len(tests)*n requests.
func (p *Perf) RedisBenchmark(ctx context.Context, addr string, tests []string, n, clients, pipeline int) ([]RedisResult, error) {
	return redisBenchmark(ctx, p, addr, tests, n, clients, pipeline)
}

func redisBenchmark(ctx context.Context, perf *Perf, addr string, tests []string, n, clients, pipeline int) ([]RedisResult, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("harness: redis-benchmark address: %w", err)
	}
	if pipeline < 1 {
		pipeline = 1
	}
	args := []string{
		"-h", host, "-p", port, "-t", strings.Join(tests, ","),
		"-n", strconv.Itoa(n), "-c", strconv.Itoa(clients), "-P", strconv.Itoa(pipeline),
		"--csv", "-q",
	}
	cmdline := "redis-benchmark " + strings.Join(args, " ")
	limit := time.Duration(len(tests)*n/10000)*time.Second + redisGrace
	out, stderr, err := runTool(ctx, perf, limit, append([]string{"redis-benchmark"}, args...)...)
	if err != nil {
		return nil, err
	}
	res, err := parseRedisCSV(out)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s%s", err, out, stderr)
	}
	for i := range res {
		res[i].Cmd = cmdline
	}
	return res, nil
}

// parseRedisCSV parses redis-benchmark's --csv report, finding the rps and
// p50_latency_ms columns by the header's names.
func parseRedisCSV(out string) ([]RedisResult, error) {
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("harness: redis-benchmark CSV: %w", err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("harness: redis-benchmark CSV has %d lines, want a header and results", len(rows))
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	iTest, ok1 := col["test"]
	iRPS, ok2 := col["rps"]
	iP50, ok3 := col["p50_latency_ms"]
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("harness: redis-benchmark CSV header %q lacks test, rps or p50_latency_ms", rows[0])
	}
	res := make([]RedisResult, 0, len(rows)-1)
	for _, row := range rows[1:] {
		rps, err := strconv.ParseFloat(row[iRPS], 64)
		if err != nil {
			return nil, fmt.Errorf("harness: redis-benchmark CSV rps %q: %w", row[iRPS], err)
		}
		ms, err := strconv.ParseFloat(row[iP50], 64)
		if err != nil {
			return nil, fmt.Errorf("harness: redis-benchmark CSV p50 %q: %w", row[iP50], err)
		}
		res = append(res, RedisResult{
			Test: row[iTest],
			RPS:  rps,
			P50:  time.Duration(ms * float64(time.Millisecond)),
		})
	}
	return res, nil
}
