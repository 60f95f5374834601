//go:build linux

// Linux only: these tests read kernel queue sizes (SIOCINQ, SIOCOUTQ), fake accept4
// through the syscall seam, or make sockets with SOCK_CLOEXEC/SOCK_NONBLOCK flags.

package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// Modes of fakeFdLimit.
const (
	fdsUnlimited = iota // every call goes to the kernel
	fdsAtLimit          // a simulated RLIMIT_NOFILE: budget fds may be opened
	fdsExhausted        // accept always fails with EMFILE, even after the spare is freed
)

// fakeFdLimit fakes the process's fd limit through the internal/sys seam: in
// fdsAtLimit mode, accept4 and open succeed only while budget > 0 and every close
// gives one back, as they would for a process at its RLIMIT_NOFILE. Swap it in
// with install before the loop starts (the loop goroutine reads the seam).
type fakeFdLimit struct {
	mode        atomic.Int32
	budget      atomic.Int64
	acceptCalls atomic.Int64 // accept4 calls while not unlimited
}

func (f *fakeFdLimit) install(t *testing.T) {
	realAccept, realOpen, realClose := sys.Accept4, sys.Open, sys.Close
	take := func() bool {
		if f.budget.Dec() < 0 {
			f.budget.Inc()
			return false
		}
		return true
	}
	t.Cleanup(sys.Swap(&sys.Accept4, func(fd int, buf *sys.AcceptBuf, flags int) (int, error) {
		switch f.mode.Load() {
		case fdsExhausted:
			f.acceptCalls.Inc()
			return -1, unix.EMFILE
		case fdsAtLimit:
			f.acceptCalls.Inc()
			if !take() {
				return -1, unix.EMFILE
			}
			nfd, err := realAccept(fd, buf, flags)
			if err != nil {
				f.budget.Inc()
			}
			return nfd, err
		}
		return realAccept(fd, buf, flags)
	}))
	t.Cleanup(sys.Swap(&sys.Open, func(path string, mode int, perm uint32) (int, error) {
		if f.mode.Load() == fdsAtLimit {
			if !take() {
				return -1, unix.EMFILE
			}
			fd, err := realOpen(path, mode, perm)
			if err != nil {
				f.budget.Inc()
			}
			return fd, err
		}
		return realOpen(path, mode, perm)
	}))
	t.Cleanup(sys.Swap(&sys.Close, func(fd int) error {
		err := realClose(fd)
		if err == nil && f.mode.Load() == fdsAtLimit {
			f.budget.Inc()
		}
		return err
	}))
}

// countEMFILE is a loop OnError that counts EMFILE reports and logs the rest.
func countEMFILE(t *testing.T, n *atomic.Int64) func(loop.Target, error) {
	return func(tg loop.Target, err error) {
		if errors.Is(err, unix.EMFILE) {
			n.Inc()
			return
		}
		t.Logf("loop OnError(%T): %v", tg, err)
	}
}

// Row 2 of RELIABILITY.md, through the seam: at the fd limit the listener frees
// its spare fd, accepts and closes every pending client, takes the spare back and
// does not spin; once fds are available it accepts normally again.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	var limit fakeFdLimit
	limit.install(t)
	var emfiles atomic.Int64
	l := startLoop(t, countEMFILE(t, &emfiles))
	ln := serve(t, l, "tcp", "127.0.0.1:0", echoHandler{}, transport.Config{})

	limit.budget.Store(0)
	limit.mode.Store(fdsAtLimit)
	rounds0 := l.Stats().Rounds
	const pending = 5
	for i := 0; i < pending; i++ {
		c := dial(t, ln.Addr().String(), 0) // the kernel completes the handshake
		expectPeerClosed(t, c, fmt.Sprintf("pending client %d at the fd limit", i))
	}
	var shed uint64
	onLoop(t, l, func() { shed = ln.Shed() })
	if shed != pending {
		t.Errorf("Shed() = %d, want %d", shed, pending)
	}
	time.Sleep(200 * time.Millisecond) // still at the limit: a spinning loop would count rounds now
	rounds := l.Stats().Rounds - rounds0
	t.Logf("at the fd limit: %d rounds, %d accept4 calls, %d EMFILE reports, %d shed",
		rounds, limit.acceptCalls.Load(), emfiles.Load(), shed)
	if rounds >= 50 {
		t.Errorf("the loop ran %d rounds while at the fd limit with %d clients; want < 50 (no spinning)", rounds, pending)
	}
	if emfiles.Load() == 0 {
		t.Error("no EMFILE was reported to OnError")
	}
	if b := limit.budget.Load(); b != 0 {
		t.Errorf("after shedding, %d fds are free in the simulated limit, want 0: the spare was not taken back", b)
	}

	limit.mode.Store(fdsUnlimited)
	expectEcho(t, dial(t, ln.Addr().String(), 0), "after fds freed up")
}

// When even the spare fd cannot shed the pending clients, the listener pauses
// (acceptPause) instead of spinning on its readable socket, and accepts the clients
// once accept works again.
func TestAcceptPausesWhenEMFILEPersists(t *testing.T) {
	var limit fakeFdLimit
	limit.install(t)
	var emfiles atomic.Int64
	l := startLoop(t, countEMFILE(t, &emfiles))
	ln := serve(t, l, "tcp", "127.0.0.1:0", echoHandler{}, transport.Config{})

	limit.mode.Store(fdsExhausted)
	rounds0 := l.Stats().Rounds
	const pending = 3
	conns := make([]string, pending)
	cs := make([]net.Conn, pending)
	for i := range cs {
		cs[i] = dial(t, ln.Addr().String(), 0)
		conns[i] = fmt.Sprintf("client %d", i)
		if _, err := cs[i].Write([]byte(conns[i])); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	rounds := l.Stats().Rounds - rounds0
	calls := limit.acceptCalls.Load()
	t.Logf("with accept failing: %d rounds, %d accept4 calls, %d EMFILE reports in 200ms", rounds, calls, emfiles.Load())
	if rounds >= 50 || calls >= 50 {
		t.Errorf("%d rounds and %d accept4 calls in 200ms of EMFILE; want < 50 each (paused, not spinning)", rounds, calls)
	}
	if calls < 2 {
		t.Errorf("%d accept4 calls in 200ms: the listener did not retry after its pause", calls)
	}

	limit.mode.Store(fdsUnlimited)
	for i, c := range cs {
		got := make([]byte, len(conns[i]))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("%s: echo after accept recovered: %v", conns[i], err)
		}
		if string(got) != conns[i] {
			t.Fatalf("%s: got %q", conns[i], got)
		}
	}
}

// realEMFILEChildEnv marks the subprocess that TestAcceptSurvivesRealEMFILE starts.
const realEMFILEChildEnv = "SYCAMORE_TEST_REAL_EMFILE_CHILD"

// Row 2 of RELIABILITY.md with the real limit: in a subprocess (Go raises the soft
// RLIMIT_NOFILE at start-up, and the limit is per process), lower the limit, fill
// every fd number below it, then connect clients through sockets made beforehand.
func TestAcceptSurvivesRealEMFILE(t *testing.T) {
	if os.Getenv(realEMFILEChildEnv) == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAcceptSurvivesRealEMFILE$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), realEMFILEChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestAcceptSurvivesRealEMFILE")) {
			t.Fatalf("subprocess: %v\n%s", err, out)
		}
		for _, line := range bytes.Split(out, []byte("\n")) {
			if bytes.Contains(line, []byte("emfile_test.go")) {
				t.Logf("subprocess:%s", bytes.TrimSpace(line))
			}
		}
		return
	}
	acceptAtRealEMFILE(t)
}

func acceptAtRealEMFILE(t *testing.T) {
	var emfiles atomic.Int64
	l, err := loop.New(loop.Config{CPU: loop.NoPin, OnError: countEMFILE(t, &emfiles)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	if err := ln.Serve(l, echoHandler{}, transport.Config{}); err != nil {
		ln.Close()
		l.Close()
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- l.Run(context.Background()) }()
	defer func() {
		ln.Close()
		l.Stop()
		testutil.Recv(t, ran, waitFor, "Run to return")
		l.Close()
	}()

	// Everything that needs an fd is made before the limit: the clients' sockets
	// (blocking, with timeouts) and the fd the fillers are dups of.
	const pending = 3
	clients := make([]int, pending+1)
	for i := range clients {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		tv := unix.NsecToTimeval(int64(waitFor))
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
		clients[i] = fd
	}
	null, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	highest := 0
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscan(e.Name(), &n); err == nil && n > highest {
			highest = n
		}
	}

	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	limited := unix.Rlimit{Cur: uint64(highest + 16), Max: saved.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &limited); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	var fillers []int
	release := func() {
		for _, fd := range fillers {
			unix.Close(fd)
		}
		fillers = nil
		unix.Setrlimit(unix.RLIMIT_NOFILE, &saved)
	}
	defer release()
	for len(fillers) < 1<<16 {
		fd, err := unix.Dup(null)
		if err == unix.EMFILE {
			break
		}
		if err != nil {
			t.Fatalf("dup: %v", err)
		}
		fillers = append(fillers, fd)
	}
	if _, err := unix.Dup(null); err != unix.EMFILE {
		t.Fatalf("setup: dup after filling: %v, want EMFILE", err)
	}

	rounds0 := l.Stats().Rounds
	sa := &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
	for i := 0; i < pending; i++ {
		if err := connectRetryingEINTR(clients[i], sa); err != nil {
			t.Fatalf("client %d connect: %v", i, err)
		}
		var buf [16]byte
		n, err := readRetryingEINTR(clients[i], buf[:])
		if n != 0 || (err != nil && err != unix.ECONNRESET) {
			t.Fatalf("pending client %d at EMFILE: read %d, %v; want EOF or a reset", i, n, err)
		}
	}
	var shed uint64
	onLoop(t, l, func() { shed = ln.Shed() })
	time.Sleep(200 * time.Millisecond)
	rounds := l.Stats().Rounds - rounds0
	t.Logf("at the real fd limit (%d fds): %d rounds, %d EMFILE reports, %d shed", limited.Cur, rounds, emfiles.Load(), shed)
	if shed != pending {
		t.Errorf("Shed() = %d, want %d", shed, pending)
	}
	if rounds >= 50 {
		t.Errorf("the loop ran %d rounds at EMFILE; want < 50 (no spinning)", rounds)
	}
	if emfiles.Load() == 0 {
		t.Error("no EMFILE was reported to OnError")
	}

	release()
	c := clients[pending]
	if err := connectRetryingEINTR(c, sa); err != nil {
		t.Fatalf("connect after fds freed: %v", err)
	}
	if _, err := writeRetryingEINTR(c, []byte("fds are back")); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, 0, 16)
	for len(got) < len("fds are back") {
		var buf [16]byte
		n, err := readRetryingEINTR(c, buf[:])
		if n <= 0 {
			t.Fatalf("echo after fds freed: read %d, %v (got %q)", n, err, got)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "fds are back" {
		t.Fatalf("echo after fds freed: %q", got)
	}
}
