//go:build linux

package loop

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/poller"
)

// recordPollerFds records, through the sys.EpollCreate1 and sys.Eventfd seam, the
// epoll fd and the eventfd of every poller made while it is installed (install it
// before New). Restored when the test ends.
func recordPollerFds(t *testing.T) *[]int {
	t.Helper()
	var fds []int
	realCreate, realEventfd := sys.EpollCreate1, sys.Eventfd
	t.Cleanup(sys.Swap(&sys.EpollCreate1, func(flags int) (int, error) {
		fd, err := realCreate(flags)
		if err == nil {
			fds = append(fds, fd)
		}
		return fd, err
	}))
	t.Cleanup(sys.Swap(&sys.Eventfd, func(initval uint, flags int) (int, error) {
		fd, err := realEventfd(initval, flags)
		if err == nil {
			fds = append(fds, fd)
		}
		return fd, err
	}))
	return &fds
}

// childOpenFds execs `ls -l /proc/self/fd` and returns the fds the child had open,
// each with what it points to ("anon_inode:[eventpoll]", "socket:[1234]").
func childOpenFds(t *testing.T) map[int]string {
	t.Helper()
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skipf("no ls to list a child's fds: %v", err)
	}
	cmd := exec.Command(ls, "-l", "/proc/self/fd")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.WaitDelay = waitFor // bound the wait for the child's output
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -l /proc/self/fd: %v", ls, err)
	}
	fds := make(map[int]string)
	for _, line := range strings.Split(string(out), "\n") {
		// "lrwx------ 1 root root 64 Nov 21 03:10 4 -> anon_inode:[eventpoll]"
		before, target, ok := strings.Cut(line, " -> ")
		if !ok {
			continue
		}
		fields := strings.Fields(before)
		fd, err := strconv.Atoi(fields[len(fields)-1])
		if err != nil {
			t.Fatalf("cannot read the fd in the child's line %q", line)
		}
		fds[fd] = target
	}
	if len(fds) < 3 {
		t.Fatalf("the child listed %d fds, want at least stdin, stdout and stderr:\n%s", len(fds), out)
	}
	return fds
}

// Row 18 of RELIABILITY.md, fd hygiene: a child exec'd while a loop runs, with a
// registered socket and a pending timer, must inherit none of the loop's fds (the
// epoll fd and the eventfd, recorded at the sys seam as the poller makes them)
// nor the socket the loop owns. A child fd with the same number and the same
// target as one of them is a leak. The other half of the row, every fd closed
// after each test, is TestMain's (testutil.VerifyMain).
func TestNoFdLeaksAcrossExec(t *testing.T) {
	pollerFds := recordPollerFds(t)
	l := newTestLoop(t, nil)
	if len(*pollerFds) != 2 {
		t.Fatalf("New made fds %v through the seam, want the epoll fd and the eventfd", *pollerFds)
	}
	rt, _ := registerPair(t, l, poller.Readable)
	l.AfterFunc(time.Hour, func() { t.Error("the hour-long timer fired") })
	startRun(t, l, context.Background())
	submitAndWait(t, l, func() {}) // the loop runs, and is back in epoll_wait soon

	watched := map[int]string{
		(*pollerFds)[0]: "the loop's epoll fd",
		(*pollerFds)[1]: "the loop's eventfd",
		rt.fd:           "the registered socket",
	}
	targets := make(map[int]string)
	for fd, name := range watched {
		target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if err != nil {
			t.Fatalf("%s (fd %d) is not open: %v", name, fd, err)
		}
		targets[fd] = target
	}

	child := childOpenFds(t)
	for fd, name := range watched {
		if child[fd] == targets[fd] {
			t.Errorf("%s, fd %d -> %s, leaked into an exec'd child", name, fd, targets[fd])
		}
	}
	if t.Failed() {
		t.Logf("the child's fds: %v", child)
	}
}
