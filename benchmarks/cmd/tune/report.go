package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sycamore-go/sycamore/benchmarks/internal/chart"
	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// write prints the table and the recommendation, and saves tune.json, tune.md
// and tune.svg in cfg.out.
func write(w io.Writer, cfg config, results []result, best result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## sycamore loop-count sweep: examples/%s, %s load\n\n", cfg.example, cfg.load)
	fmt.Fprintf(&b, "- machine: %s\n- each run: %v, %d client conns\n- command of the first run: `%s`\n\n",
		harness.Machine(), cfg.duration, cfg.conns, results[0].Cmd)
	fmt.Fprintf(&b, "| loops | pin | balancer | reuseport | req/s | p50 ms | p99 ms | server CPU s | req per CPU-s |\n")
	fmt.Fprintf(&b, "|---:|---|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %d | %v | %s | %v | %s | %s | %s | %.2f | %s |\n", r.loops, r.pin, r.balance, r.reusePort,
			chart.Humanize(r.RPS), fixed(r.P50), fixed(r.P99), r.CPU, chart.Humanize(r.ReqPerCPU))
	}
	fmt.Fprintf(&b, "\n**Recommended: %d loops, %s** (%s req/s; the highest throughput whose p99 stays within 2× the best p99).\n",
		best.loops, map[bool]string{false: "unpinned", true: "pinned"}[best.pin], chart.Humanize(best.RPS))
	if err := harness.SaveReport(w, cfg.out, "tune", b.String(), jsonResults(results, best)); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(cfg.out, "tune.svg"))
	if err != nil {
		return err
	}
	defer f.Close()
	title := fmt.Sprintf("examples/%s, %s load: req/s by loop count", cfg.example, cfg.load)
	return chart.Lines(f, title, "loops", "req/s", harness.Machine(), series(results),
		float64(best.loops), fmt.Sprintf("recommended: %d loops", best.loops))
}

// series are the stage-1 results as two lines, unpinned and pinned.
func series(results []result) []chart.Series {
	lines := []chart.Series{{Name: "unpinned"}, {Name: "pinned"}}
	for _, r := range results {
		if r.balance != "least-connections" || r.reusePort {
			continue
		}
		i := 0
		if r.pin {
			i = 1
		}
		lines[i].X = append(lines[i].X, float64(r.loops))
		lines[i].Y = append(lines[i].Y, r.RPS)
	}
	return lines
}

func fixed(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

// jsonResults turns the results into JSON-safe maps (NaN becomes null).
func jsonResults(results []result, best result) map[string]any {
	num := func(v float64) any {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	}
	var rows []map[string]any
	for _, r := range results {
		rows = append(rows, map[string]any{
			"loops": r.loops, "pin": r.pin, "balancer": r.balance, "reuseport": r.reusePort,
			"rps": num(r.RPS), "p50_ms": num(r.P50), "p99_ms": num(r.P99), "cpu_s": num(r.CPU),
			"req_per_cpu": num(r.ReqPerCPU), "cmd": r.Cmd,
		})
	}
	return map[string]any{"machine": harness.Machine(), "results": rows,
		"recommended": map[string]any{"loops": best.loops, "pin": best.pin}}
}
