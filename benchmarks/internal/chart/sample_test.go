package chart

import (
	"os"
	"path/filepath"
	"testing"
)

// sampleGroups is a realistic benchmark result with three units, one of
// them bytes, and sycamore highlighted in every group.
func sampleGroups() []Group {
	servers := []string{"sycamore", "gnet", "netpoll", "fasthttp", "net/http"}
	group := func(title, unit string, values ...float64) Group {
		g := Group{Title: title, Unit: unit, Highlight: "sycamore"}
		for i, value := range values {
			g.Bars = append(g.Bars, Bar{Label: servers[i], Value: value})
		}
		return g
	}
	return []Group{
		group("wrk plain", "req/s", 123456, 118000, 97300, 101500, 48200),
		group("efficiency", "req per CPU-second", 41200, 39800, 30100, 35000, 12900),
		group("memory", "bytes/conn", 1536, 2300, 4096, 9800, 17400),
	}
}

// sampleSeries is a realistic loop-count sweep for three servers.
func sampleSeries() []Series {
	loops := []float64{1, 2, 4, 8, 16}
	return []Series{
		{Name: "sycamore", X: loops, Y: []float64{61000, 118000, 231000, 262000, 258000}},
		{Name: "gnet", X: loops, Y: []float64{58000, 110000, 205000, 240000, 236000}},
		{Name: "net/http", X: loops, Y: []float64{40000, 71000, 120000, 150000, 151000}},
	}
}

// TestWriteExampleCharts renders the sample data to files for a person to
// look at. It writes into CHART_EXAMPLE_DIR when that is set (for example
// CHART_EXAMPLE_DIR=/tmp) and into a temporary directory otherwise, so a
// plain test run leaves nothing behind.
func TestWriteExampleCharts(t *testing.T) {
	dir := os.Getenv("CHART_EXAMPLE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	write := func(name string, render func(*os.File) error) {
		file, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := render(file); err != nil {
			t.Fatal(err)
		}
		if err := file.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("chart_example_bars.svg", func(f *os.File) error {
		return Bars(f, "sycamore vs other Go servers", "wrk -t4 -c256 -d30s http://127.0.0.1:8080/ on test-box (16 cores)", sampleGroups())
	})
	write("chart_example_lines.svg", func(f *os.File) error {
		return Lines(f, "Throughput by event-loop count", "event loops", "req/s",
			"wrk -t4 -c256 -d30s on test-box (16 cores)", sampleSeries(), 4, "recommended: 4 loops")
	})
}
