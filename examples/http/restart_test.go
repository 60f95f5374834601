package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildServer builds this example into a temporary directory (the restart
// re-executes the binary, so it must be a real one).
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "http")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// readPid reads the pid in the pid file, 0 if there is none yet.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// gone reports whether pid has exited (a zombie counts: it serves nothing).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// waitUntil polls cond every 10 ms for at most d.
func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestRestartUnderLoadLosesNoRequest: wrk -t2 -c64 -d12s keeps the server busy
// while it is sent SIGHUP three times, each time at the pid its -pidfile names.
// Each restart starts a copy that inherits the listening socket, and the old
// process drains (its keep-alive conns answered with Connection: close) and
// exits. wrk must see no socket error and no non-2xx answer, the pid file must
// name a new process after each restart, and every old process must be gone
// within its drain.
func TestRestartUnderLoadLosesNoRequest(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skipf("wrk not installed: %v", err)
	}
	if testing.Short() {
		t.Skip("a 12 s load test")
	}
	bin := buildServer(t)
	pidfile := filepath.Join(t.TempDir(), "http.pid")
	srv := exec.Command(bin, "-addr", "127.0.0.1:0", "-loops", "2", "-pidfile", pidfile, "-drain", "3s")
	// A pipe of our own, not StderrPipe: Wait closes that one when the first
	// process exits, and the copies that inherited it would die of SIGPIPE.
	stderr, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	srv.Stderr = w
	err = srv.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() { // whichever generation serves at the end
		if pid := readPid(pidfile); pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
			waitUntil(10*time.Second, func() bool { return gone(pid) })
		}
		srv.Process.Kill()
	}()
	port := make(chan string, 1)
	var logs strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		re := regexp.MustCompile(`addrs=\[127\.0\.0\.1:(\d+)\]`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
	}()
	var p string
	select {
	case p = <-port:
	case <-time.After(waitLimit):
		t.Fatal("the server did not say where it listens")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	load := exec.CommandContext(ctx, wrk, "-t2", "-c64", "-d12s", "http://127.0.0.1:"+p+"/plaintext")
	var out bytes.Buffer // wrk's report, and what it says on stderr when it cannot run
	load.Stdout, load.Stderr = &out, &out
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}

	pids := []int{srv.Process.Pid}
	for i := range 3 {
		time.Sleep(2500 * time.Millisecond) // load on the current process first
		old := readPid(pidfile)
		if old != pids[len(pids)-1] {
			t.Fatalf("restart %d: the pid file names %d, want %d", i+1, old, pids[len(pids)-1])
		}
		syscall.Kill(old, syscall.SIGHUP)
		if !waitUntil(waitLimit, func() bool { p := readPid(pidfile); return p != 0 && p != old }) {
			t.Fatalf("restart %d: the pid file still names %d\nlogs:\n%s", i+1, old, logs.String())
		}
		if !waitUntil(3*time.Second+waitLimit, func() bool { return gone(old) }) {
			t.Fatalf("restart %d: the old process %d is still running after its drain", i+1, old)
		}
		pids = append(pids, readPid(pidfile))
	}
	waitErr := load.Wait()
	r := out.String()
	t.Logf("wrk (%v):\n%s", waitErr, r)
	if strings.Contains(r, "Socket errors") || strings.Contains(r, "Non-2xx") {
		t.Fatalf("wrk saw errors across %d restarts (pids %v):\n%s", 3, pids, r)
	}
	if !regexp.MustCompile(`\d+ requests in`).MatchString(r) {
		t.Fatalf("no wrk report:\n%s", r)
	}
}
