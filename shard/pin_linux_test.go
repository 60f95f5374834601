package shard

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

func TestPinnedLoopThreadsHaveOneCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc/self/task on this system")
	}
	ncpu := runtimeCPUs()
	e := newEngine(t, Options{Loops: ncpu + 1, Pin: true})
	if err := e.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	for i, l := range e.Loops() {
		tids := make(chan int, 1)
		if err := l.Submit(func() { tids <- unix.Gettid() }); err != nil {
			t.Fatal(err)
		}
		tid := testutil.Recv(t, tids, 5*time.Second, "loop thread id")
		got := cpusAllowed(t, tid)
		if want := fmt.Sprint(i % ncpu); got != want {
			t.Errorf("loop %d (thread %d) may run on CPUs %q, want only %q", i, tid, got, want)
		}
	}
}

func TestUnpinnedLoopsKeepEveryCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc/self/task on this system")
	}
	if runtimeCPUs() < 2 {
		t.Skip("one CPU: pinned and unpinned look alike")
	}
	e := newEngine(t, Options{Loops: 1})
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	tids := make(chan int, 1)
	e.Loops()[0].Submit(func() { tids <- unix.Gettid() })
	tid := testutil.Recv(t, tids, 5*time.Second, "loop thread id")
	if got := cpusAllowed(t, tid); len(got) < 2 {
		t.Fatalf("an unpinned loop may run only on CPUs %q", got)
	}
}

// cpusAllowed reads a thread's Cpus_allowed_list from /proc.
func cpusAllowed(t *testing.T, tid int) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/status", tid))
	if err != nil {
		t.Fatalf("thread %d: %v", tid, err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("thread %d: no Cpus_allowed_list", tid)
	return ""
}
