// Package harness starts the servers under test and drives the load tools
// (wrk, redis-benchmark, perf) for sycamore's end-to-end benchmarks, and
// measures the servers from /proc: CPU time, resident memory, and memory per
// idle connection.
//
// Every server runs as its own process in its own process group on a free
// loopback port, so it can be measured and stopped as a whole, workers and
// all. Every external command runs under a context and a time bound.
//
// The package is Linux-only in practice: CPU, RSS and the idle-connection
// measurement read /proc.
package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server says how to start a server under test.
type Server struct {
	Name string   // label in tables: "sycamore", "net/http", "fasthttp", "netpoll", "gnet", "nbhttp", "nbio", "nginx", "redis-server", "net echo", ...
	Kind string   // "http", "resp", "echo" or "dns"
	Args []string // argv; the words "{addr}", "{host}" and "{port}" are replaced
	Env  []string // extra environment ("KEY=value", the same words replaced), may be nil
	// Setup, when set, writes config files into dir (a fresh temp dir that
	// Stop removes) and returns extra arguments appended to Args; nginx uses it.
	Setup func(dir, addr string) ([]string, error)
	// Note says in words what Setup writes, for reports; Line ends with it,
	// as a shell comment.
	Note string
	// Network is how clients reach the server: "tcp" (also when empty) or
	// "udp". Start waits for a TCP server to accept a conn and for a UDP
	// server to bind a socket to its port (see udpBound): a datagram server
	// accepts nothing, and a probe it would answer is a protocol's.
	Network string
}

// Line returns s's command line as a shell would run it, for reports: the
// binary by its base name (the harness builds into a temp dir), the words
// {addr}, {host} and {port} as they are, and without what Setup adds, which
// Note, after a #, describes.
func (s Server) Line() string {
	if len(s.Args) == 0 {
		return ""
	}
	argv := append([]string{filepath.Base(s.Args[0])}, s.Args[1:]...)
	line := shellLine(s.Env, argv)
	if s.Note != "" {
		line += " # " + s.Note
	}
	return line
}

// Proc is a running server started by Start.
type Proc struct {
	Pid  int    // the server's pid, also its process group id
	Addr string // "127.0.0.1:PORT", where it listens
	Name string // Server.Name
	Kind string // Server.Kind

	network string        // Server.Network
	dir     string        // temp dir for the log and Setup's files
	logPath string        // stdout and stderr of the server
	cmd     *exec.Cmd     // the started process
	exited  chan struct{} // closed when cmd.Wait has returned
	waitErr error         // cmd.Wait's result, set before exited is closed

	stopOnce sync.Once
	stopErr  error
	finalLog string        // the log's tail, kept by Stop before it removes dir
	stopDone chan struct{} // closed when Stop has set stopErr and finalLog
}

// Start and Stop bounds.
const (
	// startTimeout bounds the wait for a new server to accept a connection;
	// nginx and redis-server take milliseconds, a Go server well under a second.
	startTimeout = 10 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM before SIGKILL; every
	// peer server bounds its own graceful shutdown to 2 s.
	stopTimeout = 5 * time.Second
	// logTail is how much of a server's log an error message quotes.
	logTail = 4 << 10
)

// Start picks a free loopback port, starts s, and waits (at most 10 s) until
// the port accepts a connection. The process gets its own process group;
// stdout and stderr go to a log file in a temp dir, quoted by (*Proc).Log.
// Cancelling ctx abandons the wait (the process is then stopped); it does not
// stop a server that has started: call Stop for that.
func Start(ctx context.Context, s Server) (*Proc, error) {
	if len(s.Args) == 0 {
		return nil, fmt.Errorf("harness: server %q has no command", s.Name)
	}
	port, err := freePort(s.Network)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dir, err := os.MkdirTemp("", "harness-"+safeName(s.Name)+"-")
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	p := &Proc{Addr: addr, Name: s.Name, Kind: s.Kind, network: s.Network, dir: dir, logPath: filepath.Join(dir, "server.log"), stopDone: make(chan struct{})}
	if err := p.launch(s); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := p.waitListening(ctx); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%w; log:\n%s", err, p.Log())
	}
	return p, nil
}

// launch runs Setup, expands the argv and starts the process.
func (p *Proc) launch(s Server) error {
	args := expandArgs(s.Args, p.Addr)
	if s.Setup != nil {
		extra, err := s.Setup(p.dir, p.Addr)
		if err != nil {
			return fmt.Errorf("harness: setting up %s: %w", s.Name, err)
		}
		args = append(args, expandArgs(extra, p.Addr)...)
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	defer logFile.Close() // the child has its own copy of the fd
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), expandArgs(s.Env, p.Addr)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Setpgid puts the server in a process group of its own, so that Stop and
	// CPU reach the workers it forks (nginx) and a terminal's ^C does not.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("harness: starting %s: %w", s.Name, err)
	}
	p.cmd, p.Pid, p.exited = cmd, cmd.Process.Pid, make(chan struct{})
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return nil
}

// waitListening checks every 20 ms whether the server is up (listening)
// until it is, the process exits, ctx ends or startTimeout passes.
func (p *Proc) waitListening(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !p.listening(ctx) {
		select {
		case <-p.exited:
			return fmt.Errorf("harness: %s exited before listening on %s: %v", p.Name, p.Addr, p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("harness: %s not listening on %s: %w", p.Name, p.Addr, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// listening reports whether a TCP server accepts a conn within 200 ms, or
// whether a UDP server has bound its port.
func (p *Proc) listening(ctx context.Context) bool {
	if p.network == "udp" {
		_, port, _ := net.SplitHostPort(p.Addr)
		n, _ := strconv.Atoi(port)
		return udpBound(n)
	}
	var d net.Dialer
	dialCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	c, err := d.DialContext(dialCtx, "tcp", p.Addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Stop sends SIGTERM to the process group, waits up to 5 s, then SIGKILLs it;
// then it removes the temp dir. It returns nil when the server exited on
// SIGTERM (with status 0 or by the signal), and an error when it had already
// exited on its own or had to be killed. Safe to call twice (and from any
// goroutine); later calls return the first call's result.
func (p *Proc) Stop() error {
	p.stopOnce.Do(func() {
		p.stopErr = p.stop()
		p.finalLog = readTail(p.logPath, logTail)
		os.RemoveAll(p.dir)
		close(p.stopDone)
	})
	return p.stopErr
}

func (p *Proc) stop() error {
	select {
	case <-p.exited:
		return fmt.Errorf("harness: %s had exited before Stop: %v", p.Name, p.waitErr)
	default:
	}
	// A negative pid signals the whole process group.
	syscall.Kill(-p.Pid, syscall.SIGTERM)
	var err error
	select {
	case <-p.exited:
		if !exitedOnSignal(p.waitErr, syscall.SIGTERM) {
			err = fmt.Errorf("harness: %s: %v", p.Name, p.waitErr)
		}
	case <-time.After(stopTimeout):
		syscall.Kill(-p.Pid, syscall.SIGKILL)
		<-p.exited
		err = fmt.Errorf("harness: %s ignored SIGTERM for %v; killed", p.Name, stopTimeout)
	}
	// The leader is gone; a worker that outlived it would keep the port.
	// While any member remains the group id cannot be reused, so the kill
	// cannot reach a stranger.
	if len(groupMembers(p.Pid)) > 0 {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
	return err
}

// exitedOnSignal reports whether err (from cmd.Wait) is a clean exit or a
// death by sig.
func exitedOnSignal(err error, sig syscall.Signal) bool {
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// Log returns the last 4 KiB of the server's stdout and stderr, for error
// messages. After Stop it returns what the log held when Stop ran.
func (p *Proc) Log() string {
	select {
	case <-p.stopDone:
		return p.finalLog
	default:
		return readTail(p.logPath, logTail)
	}
}

// Have reports whether a command is on the PATH.
func Have(cmd string) bool {
	_, err := exec.LookPath(cmd)
	return err == nil
}

// freePort asks the kernel for a free loopback port: a TCP one, or for
// network "udp" a UDP one (see freeUDPPort). Another process could take it
// before the server binds it; on a benchmark machine nothing else races for
// ports, and Start then fails with the server's bind error.
func freePort(network string) (int, error) {
	if network == "udp" {
		return freeUDPPort()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("harness: finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// expandArgs replaces the words {addr}, {host} and {port} inside each argument.
func expandArgs(args []string, addr string) []string {
	host, port, _ := net.SplitHostPort(addr)
	r := strings.NewReplacer("{addr}", addr, "{host}", host, "{port}", port)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = r.Replace(a)
	}
	return out
}

// safeName turns a label such as "net/http" into something fit for a file name.
func safeName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator {
			return '-'
		}
		return r
	}, name)
}

// readTail returns up to n bytes from the end of the file at path.
func readTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, 0)
	}
	b := make([]byte, n)
	k, _ := f.Read(b)
	return string(b[:k])
}
