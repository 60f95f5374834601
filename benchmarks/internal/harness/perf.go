package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The events a Perf counts.
const (
	// EventSyscalls is the tracepoint that fires on every system call entry.
	// The per-syscall syscalls:sys_enter_* tracepoints are not a substitute:
	// summing hundreds of them costs more than the work measured.
	EventSyscalls = "raw_syscalls:sys_enter"
	// EventCtxSwitches is the software event counting the times a thread of
	// the server left the CPU, whether it blocked (epoll_wait, a futex) or was
	// preempted.
	EventCtxSwitches = "context-switches"
)

// PerfEvents are the events the harness counts per request.
var PerfEvents = []string{EventSyscalls, EventCtxSwitches}

// perfGrace is how long perf may take, beyond the load it wraps, to attach
// and to report; past that it is stuck.
const perfGrace = 15 * time.Second

// Perf runs a load tool (its Wrk and RedisBenchmark methods) under
//
//	perf stat -e EVENTS -p PID[,PID...] -x, -o FILE -- TOOL ARGS...
//
// which counts Events in the threads of the server Pid, its descendants and
// its process group (nginx's workers, for one) for exactly as long as the
// tool runs. perf attaches to the threads that exist when it starts: run a
// counted load after one that warmed the server up. A tracepoint on every
// syscall slows the server down, so throughput and CPU are never measured
// with perf attached; the counts are for dividing by the requests of the
// same run.
//
// A run that fails (perf missing, not permitted: perf_event_paranoid, no
// CAP_PERFMON, tracefs not mounted, or the tool failing) returns an error;
// an event perf could not count (<not supported>) is absent from Counts and
// Why says why.
type Perf struct {
	Pid    int      // the server
	Events []string // perf event names, PerfEvents for both

	Counts map[string]int64 // set by the last run: count by event
	Why    string           // set by the last run: why an event is missing
}

// command wraps argv in perf stat, writing the counts to a file in a temp
// dir; read parses that file into p.Counts, removes the dir, and reports
// whether perf counted anything.
func (p *Perf) command(argv []string) (wrapped []string, read func() bool, err error) {
	path, err := exec.LookPath("perf")
	if err != nil {
		return nil, nil, errors.New("harness: perf is not installed")
	}
	pids := []int{p.Pid}
	if stats, err := readStats(); err == nil {
		if fam, err := familyOf(stats, p.Pid); err == nil {
			pids = fam
		}
	}
	pidList := make([]string, len(pids))
	for i, pid := range pids {
		pidList[i] = strconv.Itoa(pid)
	}
	dir, err := os.MkdirTemp("", "harness-perf-")
	if err != nil {
		return nil, nil, fmt.Errorf("harness: %w", err)
	}
	out := filepath.Join(dir, "perf.csv")
	wrapped = append([]string{path, "stat", "-e", strings.Join(p.Events, ","), "-p", strings.Join(pidList, ","),
		"-x,", "-o", out, "--"}, argv...)
	p.Counts, p.Why = map[string]int64{}, ""
	read = func() bool {
		defer os.RemoveAll(dir)
		b, err := os.ReadFile(out)
		if err != nil {
			p.Why = fmt.Sprintf("harness: perf stat wrote no counts: %v", err)
			return false
		}
		var why []string
		for _, ev := range p.Events {
			n, err := parsePerfStat(string(b), ev)
			if err != nil {
				why = append(why, err.Error())
				continue
			}
			p.Counts[ev] = n
		}
		p.Why = strings.Join(why, "; ")
		return len(p.Counts) > 0
	}
	return wrapped, read, nil
}

// PerRequest returns the count of event in the last run divided by requests,
// and false when the event was not counted.
func (p *Perf) PerRequest(event string, requests float64) (float64, bool) {
	n, ok := p.Counts[event]
	if !ok || requests <= 0 {
		return 0, false
	}
	return float64(n) / requests, true
}

// runTool runs argv, under perf when p is not nil, killing it after limit
// (plus perf's grace); it returns the tool's stdout and stderr. A failed run's
// error quotes the command line and both outputs; when perf itself fails (it
// counted nothing: not permitted, an unknown event) the error says so in one
// line instead, the same for every tool and server.
func runTool(ctx context.Context, p *Perf, limit time.Duration, argv ...string) (stdout, stderr string, err error) {
	return runToolEnv(ctx, p, limit, nil, argv...)
}

// runToolEnv is runTool with env ("KEY=value") added to the tool's
// environment (perf passes it on).
func runToolEnv(ctx context.Context, p *Perf, limit time.Duration, env []string, argv ...string) (stdout, stderr string, err error) {
	var out strings.Builder
	stderr, err = runToolInto(ctx, p, limit, env, &out, out.String, argv...)
	return out.String(), stderr, err
}

// runToolInto is runToolEnv with the tool's stdout written to w, for a tool
// that writes more than is worth holding in memory (dnsperf -v, a line a
// query, into a file: exec hands a *os.File to the tool as it is, with no
// copying by this process). A failed run's error quotes stdout as quote
// returns it.
func runToolInto(ctx context.Context, p *Perf, limit time.Duration, env []string, w io.Writer, quote func() string,
	argv ...string) (stderr string, err error) {
	cmdline := strings.Join(argv, " ")
	var read func() bool
	if p != nil {
		if argv, read, err = p.command(argv); err != nil {
			return "", err
		}
		limit += perfGrace
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var errOut strings.Builder
	cmd.Stdout, cmd.Stderr = w, &errOut
	err = cmd.Run()
	stderr = errOut.String()
	switch {
	case err == nil:
		if read != nil {
			read()
		}
		return stderr, nil
	case read != nil && !read():
		return stderr, fmt.Errorf("harness: perf stat failed (%v): %s", err, OneLine(stderr, 200))
	}
	return stderr, fmt.Errorf("harness: %s: %w\n%s%s", cmdline, err, quote(), stderr)
}

// OneLine squeezes a message of many lines into one of at most max bytes
// (and an ellipsis), for notes and short errors.
func OneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// parsePerfStat finds event's line in the CSV that `perf stat -x,` writes
// (count,unit,event,run time,percentage,...) and returns the count. perf
// writes "<not supported>" or "<not counted>" in place of a count it could
// not take.
func parsePerfStat(out, event string) (int64, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) < 3 || f[2] != event {
			continue
		}
		if strings.HasPrefix(f[0], "<") {
			return 0, fmt.Errorf("harness: perf stat: %s %s", event, f[0])
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("harness: perf stat: count %q: %w", f[0], err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("harness: perf stat: no %s line in %q", event, firstLine(out))
}

// firstLine returns the first non-empty line of s that is not a comment
// (perf's "# started on ..."), for short error messages.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}
