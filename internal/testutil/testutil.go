// Package testutil holds helpers shared by sycamore's tests: a TestMain that fails
// on leaked goroutines and fds, and bounded waits.
package testutil

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// VerifyMain runs the package's tests, then fails the run if any goroutine is
// still running (goleak) or any fd that was not open before the tests is still
// open. Use it as: func TestMain(m *testing.M) { testutil.VerifyMain(m) }.
func VerifyMain(m *testing.M) {
	// The Go runtime opens its own poller fds (epoll and eventfd, or kqueue) the
	// first time anything needs them, a timer included. A pipe through package os
	// starts them now, so they are in the "before" list and not reported as leaks.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	before := OpenFds()
	// Goroutines already running belong to package initialisers (ants starts a
	// default pool in its init), not to any test.
	initial := goleak.IgnoreCurrent()
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(initial); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	if code == 0 {
		if leaked := WaitFdsBack(before, 5*time.Second); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "fd leak: still open after the tests: %s\n", strings.Join(leaked, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// OpenFds returns the process's open fds as "N -> target" strings, or nil where
// /proc/self/fd is unavailable (then the fd check is skipped).
func OpenFds() map[string]bool {
	dir := "/proc/self/fd"
	if runtime.GOOS != "linux" {
		dir = "/dev/fd"
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	fds := make(map[string]bool, len(entries))
	for _, e := range entries {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			// Closed between the listing and now: the listing's own fd takes
			// the lowest free number, which may be one the process just closed.
			continue
		}
		fds[e.Name()+" -> "+target] = true
	}
	return fds
}

// WaitFdsBack waits up to d for every fd opened since before to be closed and
// returns those still open. The ReadDir of /proc/self/fd itself opens one fd, which
// is ignored.
func WaitFdsBack(before map[string]bool, d time.Duration) []string {
	if before == nil {
		return nil
	}
	var leaked []string
	deadline := time.Now().Add(d)
	for {
		leaked = leaked[:0]
		for fd := range OpenFds() {
			if !before[fd] && !strings.HasSuffix(fd, "/fd") {
				leaked = append(leaked, fd)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			sort.Strings(leaked)
			return leaked
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Eventually polls cond every millisecond until it holds or d passes, and fails
// the test with msg if it never held. It is for waiting on an event, not a sleep.
func Eventually(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: "+msg, append([]any{d}, args...)...)
		}
		time.Sleep(time.Millisecond)
	}
}

// Recv waits up to d for a value on ch and fails the test if none comes.
func Recv[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
		panic("unreachable")
	}
}

// HeapPeak starts sampling the heap every millisecond, after a GC, and returns
// a function that stops the sampling and returns by how much the heap in use
// rose above where it started at its highest (in bytes, 0 if it never rose).
// For tests that show memory stays bounded while a load runs.
func HeapPeak() (stop func() int64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := int64(m.HeapAlloc)
	done, peak := make(chan struct{}), make(chan int64)
	go func() {
		var m runtime.MemStats
		top := base
		for {
			runtime.ReadMemStats(&m)
			top = max(top, int64(m.HeapAlloc))
			select {
			case <-done:
				peak <- top - base
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-peak
	}
}
