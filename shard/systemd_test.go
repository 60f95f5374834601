package shard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/transport"
)

// The systemd tests run the test binary again as a child standing in for a
// socket-activated service: systemdHelperEnv selects TestSystemdHelperProcess
// and its mode, and the parent passes sockets with exec.Cmd.ExtraFiles (fds 3,
// 4, …) as systemd does.
const (
	systemdHelperEnv = "SYCAMORE_SYSTEMD_HELPER"
	// listenPIDSelfEnv asks the child to set LISTEN_PID to its own pid. systemd
	// sets it between fork and exec; os/exec cannot, as the pid is not known
	// before the child exists, so the child does it for it.
	listenPIDSelfEnv = "LISTEN_PID_SELF"
	// helperServing starts the line on which the serving child reports its
	// sockets: "<prefix> name=network:address ...".
	helperServing = "sycamore-systemd-helper: serving"
	// helperRefused is the line of the child that saw SystemdListeners refuse
	// its variables as it should.
	helperRefused = "sycamore-systemd-helper: refused"
)

// runSystemdHelper runs TestSystemdHelperProcess in mode with files as fds 3
// on, and LISTEN_FDS and LISTEN_FDNAMES set; LISTEN_PID is the child's own
// (listenPIDSelfEnv). It returns the lines the child prints (closed when it
// closes its stdout) and a function that closes the child's stdin (which ends
// it), waits (bounded) for it to exit, and returns its output and exit error.
func runSystemdHelper(t *testing.T, mode, names string, files ...*os.File) (lines <-chan string, wait func() (string, error)) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSystemdHelperProcess$", "-test.timeout=60s")
	cmd.Env = append(os.Environ(),
		systemdHelperEnv+"="+mode,
		listenPIDSelfEnv+"=1",
		"LISTEN_FDS="+strconv.Itoa(len(files)),
		"LISTEN_FDNAMES="+names,
		// A -race binary sleeps a second at exit to let other threads report;
		// the child has none left.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.ExtraFiles = files
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // guards output, written by the scanner and by exec's stderr copy
	var output bytes.Buffer
	cmd.Stderr = &lockedWriter{mu: &mu, w: &output}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the helper: %v", err)
	}
	lineCh := make(chan string, 64)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		defer close(lineCh)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			output.WriteString(sc.Text() + "\n")
			mu.Unlock()
			select {
			case lineCh <- sc.Text():
			default:
			}
		}
	}()
	exited := make(chan error, 1)
	go func() {
		<-scanned // Wait closes stdout: read it all first
		exited <- cmd.Wait()
	}()
	var once sync.Once
	var result error
	wait = func() (string, error) {
		once.Do(func() {
			stdin.Close()
			select {
			case result = <-exited:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				result = fmt.Errorf("the helper did not exit within 30s: %v", <-exited)
			}
		})
		mu.Lock()
		defer mu.Unlock()
		return output.String(), result
	}
	t.Cleanup(func() { wait() })
	return lineCh, wait
}

// lockedWriter serialises writes to w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

// listenerFile opens a transport listener (unserved: only the child accepts)
// and returns it and a File of its socket, both closed when the test ends.
func listenerFile(t *testing.T, network, address string) (*transport.Listener, *os.File) {
	t.Helper()
	ln, err := transport.Listen(network, address, transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return ln, f
}

func TestSystemdListenersServeTheSocketsAndNamesPassed(t *testing.T) {
	web, webFile := listenerFile(t, "tcp", "127.0.0.1:0")
	path := filepath.Join(t.TempDir(), "admin.sock")
	admin, adminFile := listenerFile(t, "unix", path)
	lines, wait := runSystemdHelper(t, "serve", "web:admin", webFile, adminFile)
	// The child has its own copies now. os/exec called Fd on each file, which
	// leaves a Listener's File non-blocking, and the socket with it.
	webFile.Close()
	adminFile.Close()
	for _, ln := range []*transport.Listener{web, admin} {
		if flags, err := unix.FcntlInt(uintptr(ln.Fd()), unix.F_GETFL, 0); err != nil || flags&unix.O_NONBLOCK == 0 {
			t.Errorf("%v is blocking after it was passed to a child (flags %#x, %v)", ln.Addr(), flags, err)
		}
	}

	line := ""
	for !strings.HasPrefix(line, helperServing) {
		var ok bool
		select {
		case line, ok = <-lines:
		case <-time.After(30 * time.Second):
		}
		if !ok {
			out, err := wait()
			t.Fatalf("the helper never reported serving (exit: %v); its output:\n%s", err, out)
		}
	}
	want := fmt.Sprintf("%s web=tcp:%s admin=unix:%s", helperServing, web.Addr(), admin.Addr())
	if line != want {
		t.Errorf("the helper reported %q, want %q", line, want)
	}
	roundTrip(t, dial(t, "tcp", web.Addr().String()), []byte("to web, in the child"))
	roundTrip(t, dial(t, "unix", path), []byte("to admin, in the child"))

	if out, err := wait(); err != nil {
		t.Fatalf("the helper failed: %v; its output:\n%s", err, out)
	}
	// The child adopted the unix socket: its Shutdown left the path alone.
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the child's engine removed the inherited socket's path: %v", err)
	}
}

func TestSystemdListenersRefuseNamesThatDoNotMatchTheCount(t *testing.T) {
	_, webFile := listenerFile(t, "tcp", "127.0.0.1:0")
	_, adminFile := listenerFile(t, "tcp", "127.0.0.1:0")
	_, wait := runSystemdHelper(t, "misnamed", "only-one", webFile, adminFile)
	if out, err := wait(); err != nil || !strings.Contains(out, helperRefused) {
		t.Fatalf("the helper failed (%v) or did not check; its output:\n%s", err, out)
	}
}

// helperFiles keeps the child's passed files open (and out of the garbage
// collector's finalizers) until it exits. A service would close them once
// served, but the child's TestMain would then see fd 3 as leaked: it counts an
// fd whose name it cannot read as new, and its own read of /proc/self/fd takes
// the lowest free fd, 3, and closes it before reading the names.
var helperFiles []*os.File

// TestSystemdHelperProcess is the child of the systemd tests; it is skipped in
// a normal run.
func TestSystemdHelperProcess(t *testing.T) {
	mode := os.Getenv(systemdHelperEnv)
	if mode == "" {
		t.Skip("the child of the systemd tests; runs only when they start it")
	}
	if os.Getenv(listenPIDSelfEnv) == "1" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid())) // what systemd does before exec
	}
	files, err := SystemdListeners()
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if val, ok := os.LookupEnv(v); ok {
			t.Errorf("SystemdListeners left %s=%q set", v, val)
		}
	}
	for _, fd := range []int{3, 4} {
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("passed fd %d is not close-on-exec (flags %#x, %v)", fd, flags, err)
		}
	}
	switch mode {
	case "misnamed":
		if !errors.Is(err, ErrSystemdEnv) || !strings.Contains(err.Error(), "names 1 fds") {
			t.Fatalf("SystemdListeners with 1 name for 2 fds: %v, %v; want ErrSystemdEnv about the names", files, err)
		}
		fmt.Println(helperRefused)
		return
	case "serve":
	default:
		t.Fatalf("unknown helper mode %q", mode)
	}
	if err != nil {
		t.Fatalf("SystemdListeners: %v", err)
	}
	e := newEngine(t, Options{Loops: 2})
	report := helperServing
	helperFiles = files
	for _, f := range files {
		addr, err := e.ListenFile(f, echo{})
		if err != nil {
			t.Fatalf("ListenFile(%s): %v", f.Name(), err)
		}
		report += fmt.Sprintf(" %s=%s:%s", f.Name(), addr.Network(), addr)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Println(report)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	if err := shutdownWithin(e, 10*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if again, err := SystemdListeners(); again != nil || err != nil {
		t.Fatalf("a second SystemdListeners: %v, %v; want none", again, err)
	}
}

func TestSystemdListenersIgnoreVariablesMeantForAnotherProcess(t *testing.T) {
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getppid()))
	t.Setenv("LISTEN_FDS", "2")
	t.Setenv("LISTEN_FDNAMES", "web:admin")
	files, err := SystemdListeners()
	if files != nil || err != nil {
		t.Fatalf("SystemdListeners for another pid: %v, %v; want none", files, err)
	}
	if _, ok := os.LookupEnv("LISTEN_FDS"); ok {
		t.Error("SystemdListeners left LISTEN_FDS set")
	}
}

func TestSystemdListenersRefuseMalformedVariables(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct{ pid, fds string }{
		{"systemd", "1"},
		{"-4", "1"},
		{self, "two"},
		{self, "-1"},
	} {
		t.Setenv("LISTEN_PID", tc.pid)
		t.Setenv("LISTEN_FDS", tc.fds)
		if files, err := SystemdListeners(); !errors.Is(err, ErrSystemdEnv) {
			t.Errorf("LISTEN_PID=%s LISTEN_FDS=%s: %v, %v; want ErrSystemdEnv", tc.pid, tc.fds, files, err)
		}
	}
	// No variables, or no fds: none, and no error.
	t.Setenv("LISTEN_PID", self)
	t.Setenv("LISTEN_FDS", "0")
	if files, err := SystemdListeners(); files != nil || err != nil {
		t.Errorf("LISTEN_FDS=0: %v, %v; want none", files, err)
	}
	if files, err := SystemdListeners(); files != nil || err != nil {
		t.Errorf("no variables: %v, %v; want none", files, err)
	}
}
