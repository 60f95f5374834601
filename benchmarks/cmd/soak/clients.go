package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// clientProc is the parent's handle on one client process.
type clientProc struct {
	index   int
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan stats    // decoded stats lines; closed when stdout ends
	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // set before exited is closed
	last    stats         // the latest line received
	final   bool          // last is the final line
}

// statsWait bounds how long the parent waits for the clients' answers to one
// "stats" request; a client that misses it keeps its previous line.
const statsWait = 500 * time.Millisecond

// startClients starts cfg.clients copies of this executable as clients,
// splitting cfg.conns between them. Cancelling ctx kills them.
func startClients(ctx context.Context, cfg config, addr string, deadline time.Time) ([]*clientProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var procs []*clientProc
	for i := 0; i < cfg.clients; i++ {
		cc := clientConfig{
			Index: i, Conns: share(cfg.conns, cfg.clients, i), Addr: addr,
			Rate: cfg.rate, Churn: cfg.churn, Deadline: deadline,
		}
		js, err := json.Marshal(cc)
		if err != nil {
			return procs, err
		}
		p := &clientProc{index: i, lines: make(chan stats, 16), exited: make(chan struct{})}
		p.cmd = exec.CommandContext(ctx, exe)
		p.cmd.Env = append(os.Environ(), clientEnv+"="+string(js))
		p.cmd.Stderr = os.Stderr
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			return procs, err
		}
		stdout, err := p.cmd.StdoutPipe()
		if err != nil {
			return procs, err
		}
		if err := p.cmd.Start(); err != nil {
			return procs, fmt.Errorf("starting client %d: %w", i, err)
		}
		procs = append(procs, p)
		go p.read(stdout)
	}
	return procs, nil
}

// share is client i's part of n conns split between k clients.
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

// read decodes the client's stdout into p.lines, then reaps the process.
func (p *clientProc) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var s stats
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			fmt.Fprintf(os.Stderr, "soak: client %d: bad line %q: %v\n", p.index, sc.Bytes(), err)
			continue
		}
		p.lines <- s
	}
	close(p.lines)
	p.waitErr = p.cmd.Wait()
	close(p.exited)
}

// send writes one command line to every client; a client that is gone is
// skipped (its exit is reported by its reaper).
func send(procs []*clientProc, cmd string) {
	for _, p := range procs {
		io.WriteString(p.stdin, cmd+"\n")
	}
}

// poll asks every client for its stats with sequence number seq and returns
// their sum; a client that does not answer within statsWait counts with its
// previous line. It returns whether every client has sent its final line.
func poll(procs []*clientProc, seq int) (sum stats, allFinal bool) {
	send(procs, fmt.Sprintf("stats %d", seq))
	deadline := time.NewTimer(statsWait)
	defer deadline.Stop()
	allFinal = true
	for _, p := range procs {
		p.await(seq, deadline.C)
		sum.add(p.last)
		allFinal = allFinal && p.final
	}
	return sum, allFinal
}

// await takes lines until the one answering seq (or the final one) or until
// timeout fires.
func (p *clientProc) await(seq int, timeout <-chan time.Time) {
	for !p.final {
		select {
		case s, ok := <-p.lines:
			if !ok {
				return
			}
			p.last, p.final = s, s.Final
			if s.Seq == seq {
				return
			}
		case <-timeout:
			return
		}
	}
}

// finish closes every client's stdin, waits up to d for each to exit, and
// kills those that did not. It returns the clients' total CPU time and a
// description of each that failed (exited non-zero, was killed, or sent no
// final line).
func finish(procs []*clientProc, d time.Duration) (cpu time.Duration, problems []string) {
	for _, p := range procs {
		p.stdin.Close()
	}
	timeout := time.After(d)
	for _, p := range procs {
		if !p.drain(timeout) {
			p.cmd.Process.Kill()
			<-p.exited
			problems = append(problems, fmt.Sprintf("client %d did not exit within %v; killed", p.index, d))
		}
		if st := p.cmd.ProcessState; st != nil {
			cpu += st.UserTime() + st.SystemTime()
		}
		if p.waitErr != nil {
			problems = append(problems, fmt.Sprintf("client %d: %v", p.index, p.waitErr))
		}
		if !p.final {
			problems = append(problems, fmt.Sprintf("client %d sent no final report", p.index))
		}
	}
	return cpu, problems
}

// drain takes the lines the parent never polled for until the client has
// exited, or until timeout fires (then it returns false). Reading on keeps
// the reader from blocking on a full p.lines while the client exits.
func (p *clientProc) drain(timeout <-chan time.Time) bool {
	for {
		select {
		case s, ok := <-p.lines:
			if !ok { // stdout ended; the reader is reaping the process
				select {
				case <-p.exited:
					return true
				case <-timeout:
					return false
				}
			}
			p.last, p.final = s, s.Final
		case <-timeout:
			return false
		}
	}
}
