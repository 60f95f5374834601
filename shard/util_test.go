package shard

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

func runtimeCPUs() int    { return runtime.NumCPU() }
func runtimeGOOS() string { return runtime.GOOS }

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
