package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// sample is one second of the soak: the server as /proc shows it and the
// clients' summed counters.
type sample struct {
	T         float64 `json:"t_s"`      // seconds since the clients started
	Steady    float64 `json:"steady_s"` // seconds since churn started; negative before
	Phase     string  `json:"phase"`    // ramp, steady, drain or settle
	ServerFds int     `json:"server_fds"`
	ServerRSS int64   `json:"server_rss_bytes"`
	ServerCPU float64 `json:"server_cpu_s"`   // utime+stime since the server started
	CPUPct    float64 `json:"server_cpu_pct"` // of one core, since the previous sample
	// WaitPct is how long the server's threads were runnable but waiting for
	// a CPU since the previous sample, summed over threads, as a percentage
	// of the wall time: the noise other processes on the machine cause.
	WaitPct float64 `json:"server_run_wait_pct"`
	waitS   float64 // the running total behind WaitPct, in seconds

	MsgsPerSec    float64 `json:"msgs_per_s"`           // verified
	BytesPerSec   float64 `json:"verified_bytes_per_s"` // verified
	ChurnedPerSec float64 `json:"churned_per_s"`
	OpenedPerSec  float64 `json:"opened_per_s"`
	Clients       stats   `json:"clients"` // running totals, summed
}

// recorder samples the server and the clients once a second and keeps every
// sample.
type recorder struct {
	srv      *harness.Proc
	procs    []*clientProc
	start    time.Time // the clients started
	steadyAt time.Time // churn started; zero before
	seq      int
	samples  []sample
	allFinal bool // every client has sent its final line
}

// tick waits for the next whole second since r.start at least half a second
// after the previous sample, then samples. A sample that came late (a starved
// process on a busy machine) is not followed by a burst of catching up. It
// returns ctx's error if ctx ends first.
func (r *recorder) tick(ctx context.Context, phase string) (sample, error) {
	secs := math.Floor(time.Since(r.start).Seconds()) + 1
	if n := len(r.samples); n > 0 && secs-r.samples[n-1].T < 0.5 {
		secs++
	}
	next := r.start.Add(time.Duration(secs) * time.Second)
	select {
	case <-ctx.Done():
		return sample{}, ctx.Err()
	case <-time.After(time.Until(next)):
	}
	return r.sample(phase), nil
}

// sample takes one sample now and prints every fifth.
func (r *recorder) sample(phase string) sample {
	r.seq++
	sum, allFinal := poll(r.procs, r.seq)
	r.allFinal = allFinal
	if n := len(r.samples); len(r.procs) == 0 && n > 0 {
		sum = r.samples[n-1].Clients // the clients are gone; their totals stand
	}
	now := time.Now()
	s := sample{T: now.Sub(r.start).Seconds(), Phase: phase, Clients: sum, Steady: -1}
	if !r.steadyAt.IsZero() {
		s.Steady = now.Sub(r.steadyAt).Seconds()
	}
	s.ServerFds = countFds(r.srv.Pid)
	s.ServerRSS, _ = r.srv.RSS() // 0 once the server is gone; the checks catch that
	if cpu, err := r.srv.CPU(); err == nil {
		s.ServerCPU = cpu.Seconds()
	}
	s.waitS = runWait(r.srv.Pid).Seconds()
	if n := len(r.samples); n > 0 {
		prev := r.samples[n-1]
		if dt := s.T - prev.T; dt > 0 {
			rate := func(a, b int64) float64 { return float64(a-b) / dt }
			s.MsgsPerSec = rate(sum.MsgsVerified, prev.Clients.MsgsVerified)
			s.BytesPerSec = rate(sum.BytesVerified, prev.Clients.BytesVerified)
			s.ChurnedPerSec = rate(sum.Churned, prev.Clients.Churned)
			s.OpenedPerSec = rate(sum.Opened, prev.Clients.Opened)
			s.CPUPct = 100 * (s.ServerCPU - prev.ServerCPU) / dt
			s.WaitPct = 100 * max(s.waitS-prev.waitS, 0) / dt // threads that exit take their share with them
		}
	}
	s.Clients.Notes = nil // kept once, in the totals, not in every sample
	r.samples = append(r.samples, s)
	if len(r.samples)%5 == 0 || phase != "steady" {
		fmt.Fprintf(os.Stderr, "soak: %5.0fs %-6s open %6d  server fds %6d  RSS %6.1f MiB  CPU %3.0f%% (waited %3.0f%%)  %6.0f msg/s  %5.0f churned/s  errors %d\n",
			s.T, phase, sum.Open, s.ServerFds, float64(s.ServerRSS)/(1<<20), s.CPUPct, s.WaitPct, s.MsgsPerSec, s.ChurnedPerSec,
			sum.Mismatches+sum.failures()+sum.ConnectErrors)
	}
	return s
}

// countFds counts the entries of /proc/pid/fd; -1 when unreadable (the
// server is gone).
func countFds(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return len(names)
}

// runWait is the time pid's threads have spent runnable but waiting for a
// CPU: the second field of /proc/pid/task/*/schedstat (nanoseconds), summed.
// It is 0 where schedstat is unavailable.
func runWait(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var total int64
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread exited since the glob
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			total += ns
		}
	}
	return time.Duration(total)
}

// settleFds returns pid's fd count once three readings 100 ms apart agree (a
// probe conn of harness.Start may still be closing), or the last reading
// after at most d.
func settleFds(pid int, d time.Duration) int {
	deadline := time.Now().Add(d)
	last, same := countFds(pid), 0
	for same < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n := countFds(pid)
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
	return last
}

// waitFds polls pid's fd count every 100 ms until it is want or d has
// passed; it returns the last count and how long it took.
func waitFds(pid, want int, d time.Duration) (int, time.Duration) {
	start := time.Now()
	for {
		n := countFds(pid)
		if n == want || time.Since(start) >= d {
			return n, time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fdLimit is the soft "Max open files" of a process, from /proc/pid/limits.
func fdLimit(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, err
	}
	if n := statusField(b, "Max open files"); n > 0 {
		return n, nil
	}
	return 0, fmt.Errorf("no Max open files in /proc/%d/limits", pid)
}
