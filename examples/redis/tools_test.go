package main

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// toolWait bounds a run of redis-cli or redis-benchmark. redis-benchmark's runs
// take a second or two; the race detector slows the server tenfold.
const toolWait = 2 * time.Minute

// tool finds a Redis command-line tool, or skips the test when it is not
// installed (it comes with the redis-tools package).
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}

// runTool runs a tool with a deadline and returns its output; a non-zero exit
// fails the test.
func runTool(t *testing.T, path string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", path, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

// TestRedisCLIWorks runs redis-cli's one-shot commands against the server.
func TestRedisCLIWorks(t *testing.T) {
	cli := tool(t, "redis-cli")
	_, addr := startRedis(t)
	host, port := hostPort(t, addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ping"}, "PONG"},
		{[]string{"set", "k", "v"}, "OK"},
		{[]string{"get", "k"}, "v"},
		{[]string{"incr", "n"}, "1"},
		{[]string{"mget", "k", "missing", "n"}, "v\n\n1"},
	} {
		args := append([]string{"-h", host, "-p", port}, tc.args...)
		if got := strings.TrimSpace(runTool(t, cli, args...)); got != tc.want {
			t.Errorf("redis-cli %s: got %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}

// benchmarkTests are the redis-benchmark tests run against the server, and the
// names its quiet output gives them.
var benchmarkTests = map[string]string{
	"ping_inline": "PING_INLINE",
	"ping_mbulk":  "PING_MBULK",
	"set":         "SET",
	"get":         "GET",
	"mset":        "MSET (10 keys)",
	"incr":        "INCR",
}

// TestRedisBenchmarkRunsClean runs redis-benchmark's tests, without and with
// pipelining, and wants each to report its rate with no warning or error: it
// asks CONFIG GET at start and prints "WARNING: Could not fetch server CONFIG"
// when the answer is not what it expects.
func TestRedisBenchmarkRunsClean(t *testing.T) {
	bench := tool(t, "redis-benchmark")
	_, addr := startRedis(t)
	host, port := hostPort(t, addr)
	names := make([]string, 0, len(benchmarkTests))
	for name := range benchmarkTests {
		names = append(names, name)
	}
	for _, pipeline := range []string{"1", "16"} {
		t.Run("P="+pipeline, func(t *testing.T) {
			out := runTool(t, bench, "-h", host, "-p", port, "-q", "-n", "10000",
				"-P", pipeline, "-t", strings.Join(names, ","))
			t.Logf("redis-benchmark -P %s:\n%s", pipeline, finalLines(out))
			lower := strings.ToLower(out)
			if strings.Contains(lower, "warning") || strings.Contains(lower, "error") {
				t.Errorf("redis-benchmark complained:\n%s", out)
			}
			for _, title := range benchmarkTests {
				if !strings.Contains(out, title+": ") || !strings.Contains(out, "requests per second") {
					t.Errorf("no result for %s in:\n%s", title, out)
				}
			}
		})
	}
}

// finalLines drops the progress lines redis-benchmark rewrites with '\r'.
func finalLines(out string) string {
	var keep []string
	for line := range strings.SplitSeq(out, "\n") {
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		if strings.TrimSpace(line) != "" {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
