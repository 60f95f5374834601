package chart_test

import (
	"fmt"
	"math"
	"os"

	"github.com/sycamore-go/sycamore/benchmarks/internal/chart"
)

func ExampleHumanize() {
	for _, v := range []float64{950, 1234, 123456, 1.2e6, math.NaN()} {
		fmt.Println(chart.Humanize(v))
	}
	// Output:
	// 950
	// 1.23k
	// 123k
	// 1.2M
	// n/a
}

func ExampleHumanBytes() {
	for _, v := range []float64{256, 1536, 3 << 20} {
		fmt.Println(chart.HumanBytes(v))
	}
	// Output:
	// 256 B
	// 1.5 KiB
	// 3 MiB
}

// ExampleBars shows one panel per load, with sycamore highlighted.
func ExampleBars() {
	groups := []chart.Group{{
		Title:     "wrk plain",
		Unit:      "req/s",
		Highlight: "sycamore",
		Bars:      []chart.Bar{{Label: "sycamore", Value: 412e3}, {Label: "net/http", Value: 198e3}},
	}}
	if err := chart.Bars(os.Stdout, "HTTP throughput", "wrk -t4 -c256 -d30s", groups); err != nil {
		fmt.Println(err)
	}
}

// ExampleLines shows throughput against the number of event loops, with the
// recommended setting marked.
func ExampleLines() {
	series := []chart.Series{{Name: "sycamore", X: []float64{1, 2, 4, 8}, Y: []float64{110e3, 210e3, 400e3, 420e3}}}
	err := chart.Lines(os.Stdout, "Scaling", "event loops", "req/s", "wrk -t4 -c256",
		series, 4, "recommended: 4 loops")
	if err != nil {
		fmt.Println(err)
	}
}
