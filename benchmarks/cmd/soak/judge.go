package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// check is one pass/fail verdict of the soak.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// summary holds the figures the report and the checks are made of, all over
// the steady phase unless named otherwise.
type summary struct {
	OpenMin       int64   `json:"open_min"`
	OpenMedian    float64 `json:"open_median"`
	ClosingMedian float64 `json:"closing_median"` // closed by the client, awaiting the server's FIN
	DialingMedian float64 `json:"dialing_median"`
	HeldMedian    float64 `json:"held_median"` // server fds less the baseline: the conns the server holds
	MsgsPerSec    float64 `json:"msgs_per_s"`
	BytesPerSec   float64 `json:"verified_bytes_per_s"`
	ChurnTarget   float64 `json:"churn_target_per_s"`
	ChurnPerSec   float64 `json:"churn_per_s"` // conns closed by churn / steady seconds
	ChurnMinSec   float64 `json:"churn_min_per_s"`
	PeakFds       int     `json:"peak_fds"` // whole run
	FdsMedian     float64 `json:"fds_median"`
	RSSEarly      float64 `json:"rss_early_bytes"` // median of the window after warm-up
	RSSLate       float64 `json:"rss_late_bytes"`  // median of the last window
	RSSGrowth     float64 `json:"rss_growth"`      // late/early - 1
	RSSPeak       int64   `json:"rss_peak_bytes"`  // whole run
	EarlyN, LateN int     `json:"-"`
	ServerCPUPct  float64 `json:"server_cpu_pct"`      // of one core, mean
	ServerWaitPct float64 `json:"server_run_wait_pct"` // waiting for a CPU, mean
	// LeakFloor is the smallest leak per churned conn that the RSS check
	// would catch: the growth it allows spread over the conns churned
	// between the windows' midpoints.
	LeakFloor float64 `json:"leak_floor_bytes_per_churned_conn"`
}

// Check thresholds.
const (
	// minChurnShare: a soak whose churn fell below half the asked rate did
	// not test what it claims to. Half, not nearly all: a client starved of
	// CPU on a small shared machine churns less (churn owed is carried for
	// one second at most, so that a stall is not followed by a burst), and
	// that is the machine's fault, not the server's.
	minChurnShare = 0.5
	// minHeldShare: churn makes each replaced conn absent for its dial, and a
	// conn closed by churn is replaced only once the server has closed it; on
	// an idle machine both take milliseconds and the server holds nearly
	// every conn. Below 90% the soak did not hold the count it claims.
	minHeldShare = 0.9
	// minWindowShare: each RSS window needs samples for at least half its
	// seconds, or the median means little.
	minWindowShare = 0.5
)

// rssWindows returns the median server RSS over the steady-phase samples in
// the window that follows warm-up, [warmup, warmup+window], and in the last
// window, [duration-window, duration], with the number of samples in each.
// Seconds are counted from the start of the steady phase.
func rssWindows(samples []sample, warmup, window, duration float64) (early, late float64, nEarly, nLate int) {
	var e, l []float64
	for _, s := range samples {
		if s.Phase != "steady" || s.ServerRSS <= 0 {
			continue
		}
		if s.Steady >= warmup && s.Steady <= warmup+window {
			e = append(e, float64(s.ServerRSS))
		}
		if s.Steady >= duration-window && s.Steady <= duration+1 { // +1: the last tick may land just past
			l = append(l, float64(s.ServerRSS))
		}
	}
	return harness.Median(e), harness.Median(l), len(e), len(l)
}

// rssSlack is growth that counts as flat whatever the ratio. A server as lean
// as sycamore's echo holds 19,000 conns in about 10 MiB, and at that size
// one step of the Go heap's pacing (GOGC=100 lets a few MiB of live heap
// double before a collection) is 20%. 4 MiB spread over the 133,000 conns
// churned between the windows at the asked rate is still a leak of 32 B per
// churned conn, less than any object a conn owns.
const rssSlack = 4 << 20

// rssFlat says whether RSS grew from early to late by at most maxGrowth, or
// by at most rssSlack. Shrinking is flat: the Go runtime returns memory to
// the OS lazily.
//
// Why medians of 30 s windows and 10%: with the conn count held constant, a
// server without a leak has a constant live heap, and its RSS moves only
// with the garbage collector's sawtooth (GOGC=100 lets the heap reach twice
// the live data between cycles) and the scavenger's lazy returns. A median
// over 30 one-second samples sits on the sawtooth's middle, not on a peak.
// The early window starts after warm-up (20 s) so that the growth to the
// working set (buffers, pools, the first GC cycles at full count) is not
// read as a leak. A real leak grows with the conns churned: at 1,900 conns
// per second, 133,000 conns are churned between the windows' midpoints, so
// 10% of a 100 MiB RSS is about 80 B per churned conn; the report prints
// this floor for the run at hand (LeakFloor).
func rssFlat(early, late, maxGrowth float64) bool {
	return early > 0 && late <= early+allowedGrowth(early, maxGrowth)
}

// allowedGrowth is the RSS growth rssFlat accepts from early.
func allowedGrowth(early, maxGrowth float64) float64 {
	return max(early*maxGrowth, rssSlack)
}

// summarise fills res.Summary from the samples.
func (res *result) summarise(cfg config) {
	sum := &res.Summary
	sum.ChurnTarget = cfg.churn * float64(cfg.conns)
	sum.OpenMin, sum.ChurnMinSec = math.MaxInt64, math.Inf(1)
	var open, fds, closing, dialing []float64
	var msgs, bytes, cpu, wait float64
	var last sample
	for _, s := range res.Samples {
		sum.PeakFds = max(sum.PeakFds, s.ServerFds)
		sum.RSSPeak = max(sum.RSSPeak, s.ServerRSS)
		if s.Phase != "steady" {
			continue
		}
		open = append(open, float64(s.Clients.Open))
		fds = append(fds, float64(s.ServerFds))
		closing = append(closing, float64(s.Clients.Closing))
		dialing = append(dialing, float64(s.Clients.Dialing))
		sum.OpenMin = min(sum.OpenMin, s.Clients.Open)
		sum.ChurnMinSec = min(sum.ChurnMinSec, s.ChurnedPerSec)
		msgs, bytes, cpu, wait = msgs+s.MsgsPerSec, bytes+s.BytesPerSec, cpu+s.CPUPct, wait+s.WaitPct
		last = s
	}
	if n := float64(len(open)); n > 0 {
		sum.OpenMedian, sum.FdsMedian = harness.Median(open), harness.Median(fds)
		sum.ClosingMedian, sum.DialingMedian = harness.Median(closing), harness.Median(dialing)
		sum.HeldMedian = sum.FdsMedian - float64(res.BaselineFds)
		sum.MsgsPerSec, sum.BytesPerSec, sum.ServerCPUPct, sum.ServerWaitPct = msgs/n, bytes/n, cpu/n, wait/n
		sum.ChurnPerSec = float64(last.Clients.Churned) / last.Steady // no churn before the steady phase
	} else {
		sum.OpenMin, sum.ChurnMinSec = 0, 0
	}
	w, d := cfg.window.Seconds(), cfg.duration.Seconds()
	sum.RSSEarly, sum.RSSLate, sum.EarlyN, sum.LateN = rssWindows(res.Samples, cfg.warmup.Seconds(), w, d)
	sum.RSSGrowth = sum.RSSLate/sum.RSSEarly - 1
	midGap := (d - w/2) - (cfg.warmup.Seconds() + w/2)
	sum.LeakFloor = allowedGrowth(sum.RSSEarly, cfg.maxGrowth) / (sum.ChurnPerSec * midGap)
}

// judge summarises the run and makes the checks.
func (res *result) judge(cfg config) {
	res.summarise(cfg)
	t, sum := res.Totals, res.Summary
	lost := t.BytesSent - t.BytesVerified
	add := func(ok bool, name, format string, args ...any) {
		res.Checks = append(res.Checks, check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	add(t.Mismatches == 0 && lost == 0 && t.MsgsSent == t.MsgsVerified && t.MsgsVerified > 0, "every byte echoed intact",
		"%d of %d messages and %d of %d bytes verified; %d mismatches, %d bytes lost",
		t.MsgsVerified, t.MsgsSent, t.BytesVerified, t.BytesSent, t.Mismatches, lost)
	// Zero tolerance: on loopback with bounded dial concurrency nothing but a
	// bug closes, resets or stalls a conn, or refuses a dial.
	add(t.failures() == 0, "no conn failed", "%d unexpected closes, %d echo timeouts, %d close timeouts, %d other I/O errors",
		t.UnexpectedCloses, t.Timeouts, t.CloseTimeouts, t.IOErrors)
	add(t.ConnectErrors == 0, "no connect error", "%d failed dials of %d", t.ConnectErrors, t.ConnectErrors+t.Opened)
	add(res.RampSeconds >= 0, "every conn opened", "%d conns open after %.0f s", cfg.conns, res.RampSeconds)
	add(sum.HeldMedian >= minHeldShare*float64(cfg.conns), "conn count held",
		"the server held a median %.0f conns while churning (pass at ≥ %.0f%% of %d); clients: %.0f open, %.0f closing, %.0f dialling (medians); server threads waited for a CPU %.0f%% of the time",
		sum.HeldMedian, 100*minHeldShare, cfg.conns, sum.OpenMedian, sum.ClosingMedian, sum.DialingMedian, sum.ServerWaitPct)
	add(sum.ChurnPerSec >= minChurnShare*sum.ChurnTarget, "churn as asked",
		"%.0f conns replaced per second on average (slowest second %.0f), asked %.0f; pass at ≥ %.0f%%",
		sum.ChurnPerSec, sum.ChurnMinSec, sum.ChurnTarget, 100*minChurnShare)
	add(len(res.Problems) == 0 && t.Unfinished == 0, "clients finished cleanly", "%s",
		orNone(append(res.Problems, unfinished(t.Unfinished)...)))
	add(res.EndFds == res.BaselineFds, "server fds back to baseline",
		"baseline %d, peak %d, %d after the clients left (waited %.1f s, at most %v)",
		res.BaselineFds, sum.PeakFds, res.EndFds, res.FdsSettleS, fdSettle)
	enough := float64(sum.EarlyN) >= minWindowShare*cfg.window.Seconds() && float64(sum.LateN) >= minWindowShare*cfg.window.Seconds()
	add(enough && rssFlat(sum.RSSEarly, sum.RSSLate, cfg.maxGrowth), "server RSS flat",
		"median %s over %d samples after warm-up, %s over %d at the end: %+.1f%% (pass at ≤ %+.0f%% or ≤ %s); catches ≥ %.0f B leaked per churned conn",
		mib(sum.RSSEarly), sum.EarlyN, mib(sum.RSSLate), sum.LateN, 100*sum.RSSGrowth, 100*cfg.maxGrowth, mib(rssSlack), sum.LeakFloor)
	add(res.ProbeError == "" && res.StopError == "", "server healthy at the end",
		"%d new conns echoed one by one on the idle server, then SIGTERM: %s", idleProbes,
		orNone(nonEmpty(res.ProbeError, res.StopError)))
	res.Passed = true
	for _, c := range res.Checks {
		res.Passed = res.Passed && c.OK
	}
	res.Summary.makeFinite()
}

// makeFinite sets the figures that could not be computed (a median of no
// samples is NaN) to 0, which JSON can carry; the checks have already failed
// on them.
func (s *summary) makeFinite() {
	for _, v := range []*float64{&s.OpenMedian, &s.FdsMedian, &s.ClosingMedian, &s.DialingMedian, &s.HeldMedian, &s.ChurnPerSec, &s.ChurnMinSec,
		&s.RSSEarly, &s.RSSLate, &s.RSSGrowth, &s.LeakFloor, &s.MsgsPerSec, &s.BytesPerSec, &s.ServerCPUPct, &s.ServerWaitPct} {
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			*v = 0
		}
	}
}

func unfinished(n int64) []string {
	if n == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d conns still open when the clients gave up draining", n)}
}

func nonEmpty(xs ...string) []string {
	var out []string
	for _, x := range xs {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, "; ")
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
