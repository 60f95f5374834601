package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// result is everything the soak found; soak.json is this, samples and all.
type result struct {
	Machine  string  `json:"machine"`
	Started  string  `json:"started"`
	Command  string  `json:"command"`
	Server   string  `json:"server"`
	Conns    int     `json:"conns"`
	Clients  int     `json:"clients"`
	Duration float64 `json:"duration_s"`
	Churn    float64 `json:"churn"`
	Rate     float64 `json:"rate"`

	ServerFdLimit int64    `json:"server_fd_limit"`
	BaselineFds   int      `json:"baseline_fds"` // before the first client
	BaselineRSS   int64    `json:"baseline_rss_bytes"`
	RampSeconds   float64  `json:"ramp_s"` // until every conn was open; -1 if never
	EndFds        int      `json:"end_fds"`
	FdsSettleS    float64  `json:"fds_settle_s"` // after the clients exited
	ProbeError    string   `json:"probe_error,omitempty"`
	StopError     string   `json:"stop_error,omitempty"`
	ClientCPU     float64  `json:"client_cpu_s"`         // all client processes, user+system
	Problems      []string `json:"problems,omitempty"`   // clients that failed, phases that timed out
	ServerLog     string   `json:"server_log,omitempty"` // only when a check failed
	Totals        stats    `json:"totals"`               // the clients' final lines, summed
	Summary       summary  `json:"summary"`
	Checks        []check  `json:"checks"`
	Passed        bool     `json:"passed"`
	Samples       []sample `json:"samples"`
}

// run builds and starts the server, soaks it, tears everything down and
// judges the result. An error means the soak could not run at all.
func run(ctx context.Context, cfg config) (*result, error) {
	limit, err := harness.RaiseNoFile()
	if err != nil {
		return nil, err
	}
	if need := share(cfg.conns, cfg.clients, 0) + fdReserve; uint64(need) > limit {
		return nil, fmt.Errorf("each client needs %d fds, RLIMIT_NOFILE is %d: raise -clients", need, limit)
	}
	bin, err := os.MkdirTemp("", "sycamore-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(bin)
	server := serverUnderTest(cfg, bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", server.Args[0], server.pkg)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build %s: %w", server.pkg, err)
	}
	srv, err := harness.Start(ctx, server.Server)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	res := &result{
		Machine: harness.Machine(), Started: time.Now().UTC().Format(time.RFC3339), Command: cfg.command,
		Server: server.label, Conns: cfg.conns, Clients: cfg.clients,
		Duration: cfg.duration.Seconds(), Churn: cfg.churn, Rate: cfg.rate, RampSeconds: -1,
	}
	if res.ServerFdLimit, err = fdLimit(srv.Pid); err != nil {
		return nil, err
	}
	if need := int64(cfg.conns + fdReserve); res.ServerFdLimit < need {
		return nil, fmt.Errorf("the server may open %d fds, it needs %d: lower -conns", res.ServerFdLimit, need)
	}
	res.BaselineFds = settleFds(srv.Pid, 3*time.Second)
	res.BaselineRSS, _ = srv.RSS()
	fmt.Fprintf(os.Stderr, "soak: server pid %d on %s: %d fds (limit %d), RSS %.1f MiB\n",
		srv.Pid, srv.Addr, res.BaselineFds, res.ServerFdLimit, float64(res.BaselineRSS)/(1<<20))

	deadline, _ := ctx.Deadline()
	procs, err := startClients(ctx, cfg, srv.Addr, deadline)
	rec := &recorder{srv: srv, procs: procs, start: time.Now()}
	if err == nil {
		err = soak(ctx, cfg, rec, res)
	}
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	send(procs, "stop") // after a failure above; harmless after soak's own stop
	cpu, problems := finish(procs, clientExit)
	res.ClientCPU = cpu.Seconds()
	res.Problems = append(res.Problems, problems...)
	for _, p := range procs {
		res.Totals.add(p.last)
	}
	teardown(rec, res)
	res.Samples = rec.samples
	res.judge(cfg)
	if !res.Passed {
		res.ServerLog = srv.Log()
	}
	return res, nil
}

// builtServer is a server to build into bin and start.
type builtServer struct {
	harness.Server
	pkg   string // what go build builds
	label string // its command line, for the report
}

// serverUnderTest is examples/echo, or with -server netecho the net
// package's echo from servers/netecho: a control that tells a fault of the
// soak from a fault of sycamore.
func serverUnderTest(cfg config, bin string) builtServer {
	if cfg.server == "netecho" {
		return builtServer{
			Server: harness.Server{Name: "net echo", Kind: "echo", Args: []string{filepath.Join(bin, "netecho"), "-addr", "{addr}"}},
			pkg:    "./servers/netecho", label: "servers/netecho (control)",
		}
	}
	args := []string{filepath.Join(bin, "echo"), "-addr", "{addr}", "-loops", fmt.Sprint(cfg.loops), "-drain", "0s"}
	return builtServer{
		Server: harness.Server{Name: "sycamore echo", Kind: "echo", Args: args},
		pkg:    "github.com/sycamore-go/sycamore/examples/echo",
		label:  fmt.Sprintf("examples/echo -loops %d -drain 0s", cfg.loops),
	}
}

// soak runs the ramp, steady and drain phases.
func soak(ctx context.Context, cfg config, rec *recorder, res *result) error {
	for {
		s, err := rec.tick(ctx, "ramp")
		if err != nil {
			return fmt.Errorf("ramp: %w", err)
		}
		if s.Clients.Open >= int64(cfg.conns) {
			res.RampSeconds = s.T
			break
		}
		if s.T > rampTimeout.Seconds() {
			return fmt.Errorf("ramp: %d of %d conns open after %v", s.Clients.Open, cfg.conns, rampTimeout)
		}
	}
	send(rec.procs, "churn")
	rec.steadyAt = time.Now()
	for time.Since(rec.steadyAt) < cfg.duration {
		if _, err := rec.tick(ctx, "steady"); err != nil {
			return fmt.Errorf("steady: %w", err)
		}
	}
	send(rec.procs, "stop")
	stopped := time.Now()
	for !rec.allFinal {
		if _, err := rec.tick(ctx, "drain"); err != nil {
			return fmt.Errorf("drain: %w", err)
		}
		if time.Since(stopped) > clientDrain+clientExit {
			return fmt.Errorf("drain: clients still closing conns after %v", clientDrain+clientExit)
		}
	}
	return nil
}

// Idle probes after the soak.
const (
	// idleProbes is how many conns, one after another, must each get an echo
	// from the server once it is idle: every new conn is handed to a loop
	// that is asleep in epoll_wait and must be woken, and with two or more
	// probes per loop a wakeup that works only once (a gate that never
	// reopens) is caught.
	idleProbes = 8
	// probeGap lets the loops fall asleep between probes.
	probeGap = 50 * time.Millisecond
	// probeTimeout bounds each probe's dial and round trip; on an idle
	// loopback both take well under a millisecond.
	probeTimeout = 5 * time.Second
)

// teardown checks that the idle server still echoes on new conns, waits for
// its fd count to come back to the baseline, samples it once more and stops
// it.
func teardown(rec *recorder, res *result) {
	for i := 0; i < idleProbes; i++ {
		time.Sleep(probeGap)
		if err := probe(rec.srv.Addr); err != nil {
			res.ProbeError = fmt.Sprintf("idle probe %d of %d: %v", i+1, idleProbes, err)
			break
		}
	}
	rec.procs = nil // gone: samples from here on are the server's alone
	start := time.Now()
	res.EndFds, _ = waitFds(rec.srv.Pid, res.BaselineFds, fdSettle)
	res.FdsSettleS = time.Since(start).Seconds()
	rec.sample("settle")
	if err := rec.srv.Stop(); err != nil {
		res.StopError = err.Error()
	}
}

// probe does one 16-byte echo round trip on a new conn.
func probe(addr string) error {
	c, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeTimeout))
	msg := []byte("soak-final-probe")
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("probe echoed %q, want %q", got, msg)
	}
	return nil
}
