package shard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sycamore-go/sycamore/transport"
)

// The environment a restarted copy finds: which of its fds from 3 on are
// listening sockets, and for which Listen call, and the fd of the pipe on which
// it says it serves.
const (
	envListeners = "SYCAMORE_LISTENERS" // "network address" per fd, separated by newlines
	envReadyFd   = "SYCAMORE_READY_FD"
)

// DefaultReadyTimeout is how long Restart waits for the new copy to say it
// serves, when RestartOptions.ReadyTimeout is 0.
const DefaultReadyTimeout = 30 * time.Second

// RestartOptions tunes Restart. The zero value restarts the running program
// with the same arguments and environment.
type RestartOptions struct {
	// Path is the program to start; "" means this one (os.Executable).
	Path string
	// Args are its arguments, without the program name; nil means this
	// process's (os.Args[1:]).
	Args []string
	// Env is added to this process's environment for it.
	Env []string
	// ReadyTimeout bounds the wait for the new copy to serve; 0 means
	// DefaultReadyTimeout. Past it the copy is killed and this engine serves on.
	ReadyTimeout time.Duration
}

// Restart replaces this process with a new copy of the program without
// refusing a connect or cutting a conn: the copy inherits every listening
// socket (ExtraFiles, described in its environment), so connects queue on the
// same sockets all along; once the copy says it serves (its Start writes to a
// readiness pipe), this engine shuts down as Shutdown does, for at most
// Options.ShutdownTimeout (0: it closes at once), and Restart returns the copy's
// process. The copy's Engine.Listen calls take the inherited sockets whose
// network and address match instead of binding new ones; inherited sockets no
// Listen asked for are closed when it starts.
//
// If the copy fails to start, exits, or does not serve within the ready
// timeout, it is killed and Restart returns why; this engine goes on serving
// as before. Call it on a signal (SIGHUP, say) from any goroutine but a loop's.
func (e *Engine) Restart(ctx context.Context, opts RestartOptions) (*os.Process, error) {
	if e.inAnyLoop() {
		return nil, ErrInLoop
	}
	if e.getState() != running {
		return nil, errors.New("shard: Restart: the engine does not run")
	}
	if !e.restarting.CompareAndSwap(false, true) {
		return nil, errors.New("shard: Restart: a restart is under way")
	}
	defer e.restarting.Store(false)
	cmd, ready, err := e.restartCommand(opts)
	if err != nil {
		return nil, err
	}
	defer ready.Close()
	if err := cmd.Start(); err != nil {
		closeFiles(cmd.ExtraFiles)
		return nil, fmt.Errorf("shard: Restart: %w", err)
	}
	closeFiles(cmd.ExtraFiles) // the copy has them now
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	if err := awaitReady(ctx, cmd, ready, timeout); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		e.log.Error("sycamore: restart failed; serving on", "err", err)
		return nil, fmt.Errorf("shard: Restart: %w", err)
	}
	go cmd.Wait() // reap it if it exits before we do; this process ends soon
	e.log.Info("sycamore: restarted; draining", "pid", cmd.Process.Pid)
	drain, cancel := context.WithTimeout(context.Background(), e.opts.ShutdownTimeout)
	defer cancel()
	if e.opts.ShutdownTimeout <= 0 {
		return cmd.Process, e.Close()
	}
	return cmd.Process, e.Shutdown(drain)
}

// restartCommand builds the copy's command: the listeners' dups as ExtraFiles
// from fd 3, described in envListeners, and the write end of a readiness pipe
// after them. It returns the read end.
func (e *Engine) restartCommand(opts RestartOptions) (*exec.Cmd, *os.File, error) {
	path := opts.Path
	if path == "" {
		var err error
		if path, err = os.Executable(); err != nil {
			return nil, nil, fmt.Errorf("shard: Restart: %w", err)
		}
	}
	args := opts.Args
	if args == nil {
		args = os.Args[1:]
	}
	files, specs, err := e.listenerHandOver()
	if err != nil {
		return nil, nil, fmt.Errorf("shard: Restart: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		closeFiles(files)
		return nil, nil, fmt.Errorf("shard: Restart: %w", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = append(files, w)
	cmd.Env = append(withoutRestartEnv(os.Environ()), opts.Env...)
	cmd.Env = append(cmd.Env,
		envListeners+"="+strings.Join(specs, "\n"),
		envReadyFd+"="+strconv.Itoa(3+len(files)))
	return cmd, r, nil
}

// awaitReady waits for the copy's line on the readiness pipe, its exit, the
// timeout or ctx.
func awaitReady(ctx context.Context, cmd *exec.Cmd, ready *os.File, timeout time.Duration) error {
	got := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(ready).ReadString('\n')
		switch {
		case line == "ready\n":
			got <- nil
		case err != nil:
			got <- errors.New("the new copy exited (or closed its readiness pipe) before it served")
		default:
			got <- fmt.Errorf("the new copy said %q on its readiness pipe", line)
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-got:
		return err
	case <-timer.C:
		return fmt.Errorf("the new copy did not serve within %v", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withoutRestartEnv drops a previous restart's variables from env.
func withoutRestartEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, envListeners+"=") && !strings.HasPrefix(kv, envReadyFd+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// inheritance is what a restarted copy was handed: listening sockets by the
// Listen call that opened them, and the readiness pipe. Taken from the
// environment once, by the first engine New makes.
type inheritance struct {
	mu        sync.Mutex
	listeners map[string][]*os.File // by "network address"
	ready     *os.File
}

var (
	inheritOnce sync.Once
	inherited   *inheritance
)

// inherit reads (and clears) the restart variables; nil when this process was
// not started by Restart.
func inherit() *inheritance {
	inheritOnce.Do(func() {
		specs, ok := os.LookupEnv(envListeners)
		readyFd, _ := strconv.Atoi(os.Getenv(envReadyFd))
		os.Unsetenv(envListeners)
		os.Unsetenv(envReadyFd)
		if !ok && readyFd == 0 {
			return
		}
		in := &inheritance{listeners: map[string][]*os.File{}}
		if specs != "" {
			for i, spec := range strings.Split(specs, "\n") {
				f := os.NewFile(uintptr(3+i), spec)
				in.listeners[spec] = append(in.listeners[spec], f)
			}
		}
		if readyFd > 0 {
			in.ready = os.NewFile(uintptr(readyFd), "sycamore readiness pipe")
		}
		inherited = in
	})
	return inherited
}

// take returns the inherited sockets for a Listen of spec ("network
// address"), and forgets them.
func (in *inheritance) take(spec string) []*os.File {
	if in == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	files := in.listeners[spec]
	delete(in.listeners, spec)
	return files
}

// serving is called when an engine of a restarted copy has started: it closes
// the inherited sockets no Listen took and says "ready" on the pipe, once.
func (in *inheritance) serving(e *Engine) {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for spec, files := range in.listeners {
		e.log.Warn("sycamore: an inherited listener was not listened on again; closed", "listener", spec)
		closeFiles(files)
	}
	in.listeners = nil
	if in.ready != nil {
		in.ready.WriteString("ready\n")
		in.ready.Close()
		in.ready = nil
	}
}

// listenInherited serves the sockets a restarted copy inherited for the Listen
// call spec, as Listen would have served new ones (each through the acceptor).
// e.life is held.
func (e *Engine) listenInherited(spec string, files []*os.File, handlers []transport.Handler) (net.Addr, error) {
	defer closeFiles(files)
	var addr net.Addr
	for _, f := range files {
		ln, err := transport.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("shard: inherited listener %q: %w", spec, err)
		}
		if addr, err = e.listenHandoff(ln, handlers); err != nil {
			return nil, err
		}
	}
	e.log.Info("sycamore: serving an inherited listener", "listener", spec, "fds", len(files))
	return addr, nil
}

// listenerHandOver returns what Restart hands the copy: a copy of every
// listening socket, and for each the Listen call it answers ("network
// address"; the bound address for one opened otherwise).
func (e *Engine) listenerHandOver() ([]*os.File, []string, error) {
	files, err := e.ListenerFiles()
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(files) != len(e.listeners) {
		closeFiles(files)
		return nil, nil, errors.New("the listeners changed while being handed over")
	}
	specs := make([]string, len(files))
	for i, ln := range e.listeners {
		spec, ok := e.specs[ln]
		if !ok {
			spec = ln.Addr().Network() + " " + ln.Addr().String()
		}
		specs[i] = spec
	}
	return files, specs, nil
}
