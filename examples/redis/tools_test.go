package main

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"strconv"
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

// TestRedisCLISubscribeSeesRedisBenchmarkPublishes runs `redis-cli subscribe`
// as a subscriber, on the other loop from the publishers, and
// `redis-benchmark -P 16 PUBLISH ch msg` against the server: the benchmark
// reports its rate with no error, and redis-cli prints every message.
func TestRedisCLISubscribeSeesRedisBenchmarkPublishes(t *testing.T) {
	const n = 20000
	cli, bench := tool(t, "redis-cli"), tool(t, "redis-benchmark")
	addrs := startServer(t, 2, newServer(newKeyspace(defaultStripes), defaultPubsubLimit))
	subHost, subPort := hostPort(t, addrs[0])
	ctx, cancel := context.WithTimeout(context.Background(), toolWait)
	defer cancel()
	sub := exec.CommandContext(ctx, cli, "-h", subHost, "-p", subPort, "subscribe", "ch")
	sub.WaitDelay = time.Second
	out, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); sub.Wait() }()
	lines := bufio.NewScanner(out)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("redis-cli subscribe ended: %v", lines.Err())
		}
		return lines.Text()
	}
	// redis-cli prints a push reply's elements one per line.
	for _, want := range []string{"subscribe", "ch", "1"} {
		if got := next(); got != want {
			t.Fatalf("redis-cli subscribe printed %q, want %q", got, want)
		}
	}
	host, port := hostPort(t, addrs[1])
	report := runTool(t, bench, "-h", host, "-p", port, "-q", "-n", strconv.Itoa(n), "-P", "16", "PUBLISH", "ch", "msg")
	t.Logf("redis-benchmark -P 16 PUBLISH ch msg:\n%s", finalLines(report))
	if lower := strings.ToLower(report); strings.Contains(lower, "error") || !strings.Contains(report, "requests per second") {
		t.Errorf("redis-benchmark did not report a clean rate:\n%s", report)
	}
	for i := range n {
		for _, want := range []string{"message", "ch", "msg"} {
			if got := next(); got != want {
				t.Fatalf("message %d: redis-cli printed %q, want %q", i, got, want)
			}
		}
	}
}
