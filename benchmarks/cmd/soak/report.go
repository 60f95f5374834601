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

// write prints the markdown summary to w and saves soak.md, soak.json,
// soak.svg (fds and open conns) and soak-rss.svg in dir.
func (res *result) write(w io.Writer, dir string) error {
	md := res.markdown()
	if err := harness.SaveReport(w, dir, "soak", md, res); err != nil {
		return err
	}
	return res.charts(dir)
}

// markdown is the summary: settings, one table of figures, the checks, and a
// timeline every 10 s.
func (res *result) markdown() string {
	var b strings.Builder
	t, s := res.Totals, res.Summary
	verdict := "PASSED"
	if !res.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "## Soak: %s, %d conns, %.0f s, %.0f%% churn per second — %s\n\n",
		strings.Fields(res.Server)[0], res.Conns, res.Duration, 100*res.Churn, verdict)
	fmt.Fprintf(&b, "- machine: %s\n- command: `%s`\n- server: `%s` (fd limit %d)\n",
		res.Machine, res.Command, res.Server, res.ServerFdLimit)
	fmt.Fprintf(&b, "- clients: %d processes, %.2f messages per conn per second of 1 B–4 KiB, one in four writes pipelining 2–4 messages\n\n",
		res.Clients, res.Rate)
	fmt.Fprintf(&b, "| figure | value |\n|---|---:|\n")
	row := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "| %s | "+format+" |\n", append([]any{name}, args...)...)
	}
	row("ramp to full count", "%.0f s", res.RampSeconds)
	row("conns held by the server, steady (median)", "%.0f", s.HeldMedian)
	row("client conns, steady: open (min / median) / closing / dialling (medians)", "%d / %.0f / %.0f / %.0f",
		s.OpenMin, s.OpenMedian, s.ClosingMedian, s.DialingMedian)
	row("messages verified (total / per s)", "%d / %s", t.MsgsVerified, chart.Humanize(s.MsgsPerSec))
	row("bytes sent / verified", "%d / %d", t.BytesSent, t.BytesVerified)
	row("verified per s", "%s/s", chart.HumanBytes(s.BytesPerSec))
	row("mismatches / bytes lost", "%d / %d", t.Mismatches, t.BytesSent-t.BytesVerified)
	row("unexpected closes / echo timeouts / close timeouts / I/O errors", "%d / %d / %d / %d",
		t.UnexpectedCloses, t.Timeouts, t.CloseTimeouts, t.IOErrors)
	row("connect errors", "%d", t.ConnectErrors)
	row("churn per s (asked / achieved mean / slowest second)", "%.0f / %.0f / %.0f", s.ChurnTarget, s.ChurnPerSec, s.ChurnMinSec)
	row("conns opened in all", "%d", t.Opened)
	row("server close after our FIN (mean / max)", "%s / %s", msText(float64(t.CloseWaitNs)/float64(max(t.CloseWaits, 1))), msText(float64(t.CloseWaitMaxNs)))
	row("server fds (baseline / steady median / peak / end)", "%d / %.0f / %d / %d", res.BaselineFds, s.FdsMedian, s.PeakFds, res.EndFds)
	row("server RSS (idle / after warm-up / last window / peak)", "%s / %s / %s / %s",
		mib(float64(res.BaselineRSS)), mib(s.RSSEarly), mib(s.RSSLate), mib(float64(s.RSSPeak)))
	row("server CPU, steady (mean, of one core)", "%.0f%%", s.ServerCPUPct)
	row("server threads waiting for a CPU, steady (mean, machine noise)", "%.0f%%", s.ServerWaitPct)
	row("client CPU (all processes, whole run)", "%.1f s", res.ClientCPU)
	row("client goroutines / RSS (largest client)", "%d / %s", t.Goroutines, mib(float64(t.RSS)))
	fmt.Fprintf(&b, "\n| check | ok | detail |\n|---|---|---|\n")
	for _, c := range res.Checks {
		mark := "yes"
		if !c.OK {
			mark = "**NO**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, mark, c.Detail)
	}
	if len(t.Notes) > 0 {
		fmt.Fprintf(&b, "\nFirst errors the clients noted:\n\n")
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	res.timeline(&b)
	if res.ServerLog != "" {
		fmt.Fprintf(&b, "\nServer log (tail):\n\n```\n%s\n```\n", strings.TrimSpace(res.ServerLog))
	}
	return b.String()
}

// timeline is a table of every tenth sample, plus the last.
func (res *result) timeline(b *strings.Builder) {
	fmt.Fprintf(b, "\nTimeline (every 10 s; every second is in soak.json):\n\n")
	fmt.Fprintf(b, "| t s | phase | open | server fds | RSS | CPU | CPU wait | msg/s | churned/s |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, s := range res.Samples {
		if i%10 != 9 && i != len(res.Samples)-1 {
			continue
		}
		fmt.Fprintf(b, "| %.0f | %s | %d | %d | %s | %.0f%% | %.0f%% | %.0f | %.0f |\n",
			s.T, s.Phase, s.Clients.Open, s.ServerFds, mib(float64(s.ServerRSS)), s.CPUPct, s.WaitPct, s.MsgsPerSec, s.ChurnedPerSec)
	}
}

// charts writes soak.svg (server fds and client conns over time) and
// soak-rss.svg (server RSS over time), each marking the start of churn.
func (res *result) charts(dir string) error {
	fds := chart.Series{Name: "server fds"}
	open := chart.Series{Name: "client conns open"}
	rss := chart.Series{Name: "server RSS, MiB"}
	markX := math.NaN()
	for _, s := range res.Samples {
		fds.X, fds.Y = append(fds.X, s.T), append(fds.Y, float64(s.ServerFds))
		open.X, open.Y = append(open.X, s.T), append(open.Y, float64(s.Clients.Open))
		rss.X, rss.Y = append(rss.X, s.T), append(rss.Y, float64(s.ServerRSS)/(1<<20))
		if s.Phase == "steady" && math.IsNaN(markX) {
			markX = s.T - s.Steady
		}
	}
	foot := res.Machine + " — " + res.Command
	for _, c := range []struct {
		file, title, unit string
		series            []chart.Series
	}{
		{"soak.svg", fmt.Sprintf("soak: %d conns, %.0f%% churn/s: fds", res.Conns, 100*res.Churn), "count", []chart.Series{fds, open}},
		{"soak-rss.svg", fmt.Sprintf("soak: %d conns, %.0f%% churn/s: server RSS", res.Conns, 100*res.Churn), "MiB", []chart.Series{rss}},
	} {
		f, err := os.Create(filepath.Join(dir, c.file))
		if err != nil {
			return err
		}
		err = chart.Lines(f, c.title, "seconds since the first client", c.unit, foot, c.series, markX, "churn starts")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// msText formats nanoseconds as milliseconds.
func msText(ns float64) string { return fmt.Sprintf("%.1f ms", ns/1e6) }
