package harness

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestParsePerfStatReadsCount(t *testing.T) {
	// A real `perf stat -e raw_syscalls:sys_enter -p PID -x,` report.
	n, err := parsePerfStat("40,,raw_syscalls:sys_enter,1418840,100.00,,\n", perfEvent)
	if err != nil || n != 40 {
		t.Fatalf("parsePerfStat = %d, %v; want 40, nil", n, err)
	}
}

func TestParsePerfStatRejectsNotSupportedAndNotCounted(t *testing.T) {
	for _, out := range []string{
		"<not supported>,,raw_syscalls:sys_enter,0,100.00,,\n",
		"<not counted>,,raw_syscalls:sys_enter,0,0.00,,\n",
		"event syntax error: 'raw_syscalls:sys_enter'\n  \\___ unknown tracepoint\n",
	} {
		if _, err := parsePerfStat(out, perfEvent); err == nil {
			t.Errorf("parsePerfStat(%q) succeeded, want an error", out)
		}
	}
}

// TestPerfSyscallsCountsThisProcessOrSaysWhy runs perf against the test
// process itself, which makes syscalls (timers, /proc reads) while perf runs.
func TestPerfSyscallsCountsThisProcessOrSaysWhy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs perf for half a second")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // make some syscalls for perf to count
		for ctx.Err() == nil {
			os.ReadFile("/proc/self/stat")
			time.Sleep(time.Millisecond)
		}
	}()
	n, ok, why := PerfSyscalls(ctx, os.Getpid(), 500*time.Millisecond)
	if !ok {
		t.Skipf("perf unavailable here: %s", why)
	}
	if n <= 0 {
		t.Fatalf("PerfSyscalls = %d, want > 0", n)
	}
	t.Logf("%d syscalls in 500 ms", n)
}

func TestPerfSyscallsOfMissingProcessIsNotOK(t *testing.T) {
	if !Have("perf") {
		t.Skip("perf not installed")
	}
	_, ok, why := PerfSyscalls(context.Background(), 1<<30, 100*time.Millisecond)
	if ok || why == "" {
		t.Fatalf("PerfSyscalls of a missing pid: ok %v, why %q; want false and a reason", ok, why)
	}
}
