//go:build linux

// Linux only: the client process makes raw sockets with Linux's socket flags
// (SOCK_CLOEXEC), and the tests that use it count on Linux's fd limit.

package shard

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// clientsEnv turns a re-executed test binary into a client process: its value is
// "addr conns workers". The tests that hold more conns than one process has fds
// for (this machine allows 20,000 per process, and a loopback conn costs one fd
// at each end) put their clients in such a process: the server keeps one fd per
// conn, the client process the other.
const clientsEnv = "SYCAMORE_SHARD_TEST_CLIENTS"

// clientPayload is what client i sends and expects back: 16 bytes, unique per
// conn, so an echo crossing conns would show.
func clientPayload(i int) []byte { return []byte(fmt.Sprintf("conn %010d\n", i)) }

// clientProcess is the parent's handle on a client process. The process speaks in
// lines: it prints "ready", waits for "go" on its stdin, connects its conns and
// echoes one payload on each, prints "echoed N" (or "error: ..."), waits for
// "close", closes every conn and prints "closed".
type clientProcess struct {
	stdin   *os.File
	lines   chan string   // the child's output, line by line; closed at its EOF
	exited  chan struct{} // closed once the child has exited and waitErr is set
	waitErr error
	mu      sync.Mutex
	seen    []string // every line, for the failure message
}

// startClientProcess re-executes the test binary as a client process for test (the
// top-level test's name: the child runs only it, and that test must begin with
// runAsClientProcess). The process is killed and reaped at the end of the test at
// the latest.
func startClientProcess(t *testing.T, test, addr string, conns, workers int) *clientProcess {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", clientsEnv, addr, conns, workers))
	// Plain files, not StdinPipe/StdoutPipe: os/exec starts no goroutine for them,
	// and the output pipe reads EOF exactly when the child has exited.
	outR, outW, err := os.Pipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		cancel()
		outR.Close()
		outW.Close()
		t.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, outW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		cancel()
		outR.Close()
		inW.Close()
		t.Fatalf("start the client process: %v", err)
	}
	c := &clientProcess{stdin: inW, lines: make(chan string, 64), exited: make(chan struct{})}
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(c.lines)
		s := bufio.NewScanner(outR)
		for s.Scan() {
			c.mu.Lock()
			c.seen = append(c.seen, s.Text())
			c.mu.Unlock()
			select {
			case c.lines <- s.Text():
			default: // nobody waits for this line; it is kept in seen
			}
		}
	}()
	go func() {
		<-read // Wait must not run before the output is read to its end
		outR.Close()
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stdin.Close() // EOF: the child closes its conns and exits
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			cancel() // kills it
			<-c.exited
		}
		cancel()
	})
	return c
}

// expect waits up to d for a line that starts with prefix and returns it; an
// "error" line, the child's exit or the deadline fails the test.
func (c *clientProcess) expect(t *testing.T, prefix string, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case line, ok := <-c.lines:
			switch {
			case !ok:
				t.Fatalf("the client process exited before %q:\n%s", prefix, c.output())
			case strings.HasPrefix(line, prefix):
				return line
			case strings.HasPrefix(line, "error"):
				t.Fatalf("client process: %s\n%s", line, c.output())
			}
		case <-deadline:
			t.Fatalf("timed out after %v waiting for the client process to say %q:\n%s", d, prefix, c.output())
		}
	}
}

// send gives the child one command line.
func (c *clientProcess) send(t *testing.T, cmd string) {
	t.Helper()
	if _, err := c.stdin.WriteString(cmd + "\n"); err != nil {
		t.Fatalf("tell the client process %q: %v", cmd, err)
	}
}

// finish tells the child to close its conns, waits for it to say so and exit.
func (c *clientProcess) finish(t *testing.T) {
	t.Helper()
	c.send(t, "close")
	c.expect(t, "closed", 30*time.Second)
	testutil.Recv(t, c.exited, 30*time.Second, "the client process to exit")
	if c.waitErr != nil {
		t.Fatalf("client process: %v\n%s", c.waitErr, c.output())
	}
}

func (c *clientProcess) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.seen, "\n")
}

// runAsClientProcess is the client process's side, to call first thing in the test
// that startClientProcess names: when clientsEnv is set it does the client's work
// and returns true (the test must then return), otherwise it returns false.
//
// The clients are raw blocking sockets driven by a few goroutines (workers; one
// for row 15), not a goroutine per conn: the race detector caps a process at
// 8,128 live goroutines.
func runAsClientProcess(t *testing.T) bool {
	spec := os.Getenv(clientsEnv)
	if spec == "" {
		return false
	}
	var addr string
	var conns, workers int
	if _, err := fmt.Sscan(spec, &addr, &conns, &workers); err != nil || workers < 1 {
		fmt.Printf("error: bad %s %q: %v\n", clientsEnv, spec, err)
		t.Fatal("bad client spec")
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		fmt.Printf("error: bad address %q: %v\n", addr, err)
		t.Fatal("bad address")
	}
	fds := make([]int, conns)
	for i := range fds {
		fds[i] = -1
	}
	defer func() {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	if !in.Scan() || in.Text() != "go" {
		return true // the parent gave up
	}
	start := time.Now()
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker w owns conns w, w+workers, w+2*workers, …, and handles
			// them clientBatch at a time: connect and send on each, then read
			// each echo. One at a time, every conn would wait for the server's
			// loops to wake up for it, twice.
			mine := make([]int, 0, clientBatch)
			for first := w; first < conns; first += clientBatch * workers {
				mine = mine[:0]
				for i := first; i < conns && len(mine) < clientBatch; i += workers {
					mine = append(mine, i)
				}
				for _, i := range mine {
					fd, err := connectAndSend(ap, i)
					if err != nil {
						errs <- fmt.Errorf("conn %d: %w", i, err)
						return
					}
					fds[i] = fd
				}
				for _, i := range mine {
					if err := expectPayloadEcho(fds[i], i); err != nil {
						errs <- fmt.Errorf("conn %d: %w", i, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		fmt.Printf("error: %v\n", err)
		return true
	}
	fmt.Printf("echoed %d in %v\n", conns, time.Since(start).Round(time.Millisecond))
	for in.Scan() && in.Text() != "close" { // or EOF: the parent is done
	}
	for i, fd := range fds {
		unix.Close(fd)
		fds[i] = -1
	}
	fmt.Println("closed")
	return true
}

// clientBatch is how many conns a client worker has in flight: it connects and
// sends on that many before it reads their echoes. 64 is far below the listen
// backlog, so no connect waits for the acceptor.
const clientBatch = 64

// connectAndSend connects a blocking socket to ap and sends conn i's payload. It
// returns the open fd.
func connectAndSend(ap netip.AddrPort, i int) (fd int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
	}()
	// A receive timeout bounds the wait for the echo. No send timeout: with one,
	// a connect interrupted by a signal (Go preempts with SIGURG) fails with EINTR
	// instead of being restarted.
	tv := unix.NsecToTimeval(int64(20 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fd, err
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return fd, fmt.Errorf("connect: %w", err)
	}
	p := clientPayload(i)
	for sent := 0; sent < len(p); {
		n, err := unix.Write(fd, p[sent:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fd, fmt.Errorf("write: %w", err)
		}
		sent += n
	}
	return fd, nil
}

// expectPayloadEcho reads conn i's payload back from fd.
func expectPayloadEcho(fd, i int) error {
	want := clientPayload(i)
	got := make([]byte, len(want))
	for read := 0; read < len(got); {
		n, err := unix.Read(fd, got[read:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the echo: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("EOF after %d bytes of the echo", read)
		}
		read += n
	}
	if string(got) != string(want) {
		return fmt.Errorf("echoed %q, want %q", got, want)
	}
	return nil
}
