package harness

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestParsePerfStatReadsCount(t *testing.T) {
	// A real `perf stat -e raw_syscalls:sys_enter -p PID -x,` report.
	n, err := parsePerfStat("40,,raw_syscalls:sys_enter,1418840,100.00,,\n", EventSyscalls)
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
		if _, err := parsePerfStat(out, EventSyscalls); err == nil {
			t.Errorf("parsePerfStat(%q) succeeded, want an error", out)
		}
	}
}

func TestParsePerfStatReadsEveryEventOfOneRun(t *testing.T) {
	// A real `perf stat -e raw_syscalls:sys_enter,context-switches -x, -o FILE` report.
	out := "# started on Fri Dec  4 23:56:24 2026\n\n" +
		"8449,,raw_syscalls:sys_enter,501223,100.00,,\n612,,context-switches,501223,100.00,,\n"
	sys, err1 := parsePerfStat(out, EventSyscalls)
	cs, err2 := parsePerfStat(out, EventCtxSwitches)
	if sys != 8449 || cs != 612 || err1 != nil || err2 != nil {
		t.Fatalf("parsePerfStat = %d, %d (%v, %v); want 8449 and 612", sys, cs, err1, err2)
	}
}

// TestPerfCountsThisProcessOrSaysWhy runs perf against the test process
// itself, which makes syscalls (/proc reads) and sleeps (context switches)
// while perf wraps a half-second sleep(1).
func TestPerfCountsThisProcessOrSaysWhy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs perf for half a second")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // make some syscalls and context switches for perf to count
		for ctx.Err() == nil {
			os.ReadFile("/proc/self/stat")
			time.Sleep(time.Millisecond)
		}
	}()
	p := &Perf{Pid: os.Getpid(), Events: PerfEvents}
	if _, _, err := runTool(ctx, p, 5*time.Second, "sleep", "0.5"); err != nil {
		t.Skipf("perf unavailable here: %v", err)
	}
	if len(p.Counts) != 2 || p.Counts[EventSyscalls] <= 0 || p.Counts[EventCtxSwitches] <= 0 {
		t.Fatalf("Counts = %v (why: %q), want both events counted", p.Counts, p.Why)
	}
	if per, ok := p.PerRequest(EventSyscalls, 2); !ok || per != float64(p.Counts[EventSyscalls])/2 {
		t.Fatalf("PerRequest = %v, %v", per, ok)
	}
	t.Logf("in 500 ms: %v", p.Counts)
}

func TestPerfOfMissingProcessFails(t *testing.T) {
	if !Have("perf") {
		t.Skip("perf not installed")
	}
	p := &Perf{Pid: 1 << 30, Events: PerfEvents}
	if _, _, err := runTool(context.Background(), p, 5*time.Second, "true"); err == nil {
		t.Fatal("perf against a missing pid succeeded")
	}
	if _, ok := p.PerRequest(EventSyscalls, 1); ok {
		t.Fatalf("PerRequest after a failed run is ok (Counts %v)", p.Counts)
	}
}
