package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sycamore-go/sycamore/benchmarks/internal/chart"
	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// report gathers every sample of the run, in the order first measured.
type report struct {
	Machine  string   `json:"machine"`
	Started  string   `json:"started"`
	Settings string   `json:"settings"`
	Quick    bool     `json:"quick"`
	Missing  []string `json:"missing_tools,omitempty"`
	Skipped  []string `json:"skipped,omitempty"`
	// Unmeasured says why figures read n/a (perf missing or not permitted).
	Unmeasured []string `json:"unmeasured,omitempty"`
	// Warnings are figures that did not measure what they should (a load of a
	// conn per request whose client kept its conns).
	Warnings []string `json:"warnings,omitempty"`
	Rows     []*row   `json:"rows"`
}

// row is one server under one load: its samples and their medians.
type row struct {
	Section string   `json:"section"`
	Load    string   `json:"load"`
	Server  string   `json:"server"`
	Samples []sample `json:"samples"`
	Median  sample   `json:"median"`
}

func (r *report) skip(section, why string) {
	r.Skipped = append(r.Skipped, section+": "+why)
	fmt.Fprintf(os.Stderr, "bench: skipped %s\n", r.Skipped[len(r.Skipped)-1])
}

// unmeasured notes, once, why some figures are n/a.
func (r *report) unmeasured(why string) {
	for _, w := range r.Unmeasured {
		if w == why {
			return
		}
	}
	r.Unmeasured = append(r.Unmeasured, why)
	fmt.Fprintf(os.Stderr, "bench: not measured: %s\n", why)
}

// warn notes a figure that did not measure what it should.
func (r *report) warn(why string) {
	r.Warnings = append(r.Warnings, why)
	fmt.Fprintf(os.Stderr, "bench: warning: %s\n", why)
}

func (r *report) add(section, load, server string, s sample) {
	fmt.Fprintf(os.Stderr, "bench: %s %s %s: %s\n", section, load, server, s.brief())
	for _, x := range r.Rows {
		if x.Section == section && x.Load == load && x.Server == server {
			x.Samples = append(x.Samples, s)
			return
		}
	}
	r.Rows = append(r.Rows, &row{Section: section, Load: load, Server: server, Samples: []sample{s}})
}

// medians fills every row's Median, figure by figure.
func (r *report) medians() {
	for _, x := range r.Rows {
		m := sample{Cmd: x.Samples[0].Cmd}
		pick := func(f func(s sample) float64) float64 {
			var xs []float64
			for _, s := range x.Samples {
				if v := f(s); !math.IsNaN(v) {
					xs = append(xs, v)
				}
			}
			return harness.Median(xs)
		}
		m.RPS = pick(func(s sample) float64 { return s.RPS })
		m.P50 = pick(func(s sample) float64 { return s.P50 })
		m.P99 = pick(func(s sample) float64 { return s.P99 })
		m.CPU = pick(func(s sample) float64 { return s.CPU })
		m.ReqPerCPU = pick(func(s sample) float64 { return s.ReqPerCPU })
		m.Syscalls = pick(func(s sample) float64 { return s.Syscalls })
		m.CtxSwitches = pick(func(s sample) float64 { return s.CtxSwitches })
		m.RSS = pick(func(s sample) float64 { return s.RSS })
		m.PerConn = pick(func(s sample) float64 { return s.PerConn })
		m.Errors = pick(func(s sample) float64 { return s.Errors })
		m.NewConns = pick(func(s sample) float64 { return s.NewConns })
		m.Resumes = pick(func(s sample) float64 { return s.Resumes })
		if x.Samples[0].Fanout != nil {
			fan := func(f func(*fanoutFigures) float64) float64 {
				return pick(within(func(s sample) *fanoutFigures { return s.Fanout }, f))
			}
			m.Fanout = &fanoutFigures{
				Delivered:       fan(func(f *fanoutFigures) float64 { return f.Delivered }),
				DeliveredPerCPU: fan(func(f *fanoutFigures) float64 { return f.DeliveredPerCPU }),
				Disconnected:    fan(func(f *fanoutFigures) float64 { return f.Disconnected }),
			}
		}
		if x.Samples[0].DNS != nil {
			dns := func(f func(*dnsFigures) float64) float64 {
				return pick(within(func(s sample) *dnsFigures { return s.DNS }, f))
			}
			m.DNS = &dnsFigures{
				Avg:  dns(func(d *dnsFigures) float64 { return d.Avg }),
				Lost: dns(func(d *dnsFigures) float64 { return d.Lost }),
			}
		}
		x.Median = m
	}
}

// within turns f, a figure of a section's own figures (a sample's Fanout or
// DNS, got by of), into a figure of the sample: NaN for a sample without them.
func within[F any](of func(sample) *F, f func(*F) float64) func(sample) float64 {
	return func(s sample) float64 {
		if own := of(s); own != nil {
			return f(own)
		}
		return nan
	}
}

// loads returns the (section, load) pairs in the order first measured.
func (r *report) loads() [][2]string {
	var out [][2]string
	seen := map[[2]string]bool{}
	for _, x := range r.Rows {
		k := [2]string{x.Section, x.Load}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func (r *report) rowsOf(section, load string) []*row {
	var out []*row
	for _, x := range r.Rows {
		if x.Section == section && x.Load == load {
			out = append(out, x)
		}
	}
	return out
}

// write prints the markdown report to w and saves latest.json, latest.md and
// latest.svg in dir.
func (r *report) write(w io.Writer, dir string) error {
	r.medians()
	var md strings.Builder
	r.markdown(&md)
	if err := harness.SaveReport(w, dir, "latest", md.String(), r); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "latest.svg"))
	if err != nil {
		return err
	}
	defer f.Close()
	return chart.Bars(f, "sycamore and its peers (medians)", r.Machine+" — "+r.Settings, r.chartGroups())
}

// has reports whether some row belongs to section.
func (r *report) has(section string) bool {
	for _, x := range r.Rows {
		if x.Section == section {
			return true
		}
	}
	return false
}

// sycamoreOf returns the sycamore row of a load, or nil.
func sycamoreOf(rows []*row) *row {
	for _, x := range rows {
		if x.Server == "sycamore" {
			return x
		}
	}
	return nil
}

// ratio is a/b formatted as "1.23×", or "–" when either is missing.
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func sortedCopy(rows []*row) []*row {
	out := append([]*row(nil), rows...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Server == "sycamore" && out[j].Server != "sycamore" })
	return out
}
