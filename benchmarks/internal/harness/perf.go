package harness

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// perfEvent is the tracepoint that fires on every system call entry. The
// per-syscall syscalls:sys_enter_* tracepoints are not a substitute: summing
// hundreds of them costs more than the work measured.
const perfEvent = "raw_syscalls:sys_enter"

// PerfSyscalls counts the system calls made by pid, its descendants and its
// process group (nginx's workers, for one) for dur, with
//
//	perf stat -e raw_syscalls:sys_enter -p PID[,PID...] -x, -- sleep <dur>
//
// perf attaches to the threads that exist when it starts; start it once the
// server is under load. ok is false when perf is missing, is not permitted
// (perf_event_paranoid, no CAP_PERFMON, tracefs not mounted) or the event is
// unknown; why then says which, for a table's "n/a" footnote.
func PerfSyscalls(ctx context.Context, pid int, dur time.Duration) (count int64, ok bool, why string) {
	path, err := exec.LookPath("perf")
	if err != nil {
		return 0, false, "perf is not installed"
	}
	pids := []int{pid}
	if stats, err := readStats(); err == nil {
		if fam, err := familyOf(stats, pid); err == nil {
			pids = fam
		}
	}
	pidList := make([]string, len(pids))
	for i, p := range pids {
		pidList[i] = strconv.Itoa(p)
	}
	secs := strconv.FormatFloat(dur.Seconds(), 'f', 3, 64)
	// perf has a few seconds to set up and to report; past that it is stuck.
	ctx, cancel := context.WithTimeout(ctx, dur+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "stat", "-e", perfEvent, "-p", strings.Join(pidList, ","), "-x,", "--", "sleep", secs)
	// perf stat writes its counts to stderr; stdout is sleep's, and empty.
	out, err := cmd.CombinedOutput()
	count, parseErr := parsePerfStat(string(out), perfEvent)
	if err != nil {
		return 0, false, fmt.Sprintf("perf stat failed (%v): %s", err, firstLine(string(out)))
	}
	if parseErr != nil {
		return 0, false, parseErr.Error()
	}
	return count, true, ""
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

// firstLine returns the first non-empty line of s, for short error messages.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}
