// Command soak holds 19,000 conns against examples/echo for two minutes while
// replacing 10% of them every second, verifies every echoed byte, and watches
// the server's fd count and RSS. It fails (exit status 1) on any wrong or lost
// byte, any conn failure, fds not back to their baseline after the clients
// leave, RSS that keeps growing, or an idle server that no longer answers new
// conns or SIGTERM.
//
//	go run ./cmd/soak            # 19,000 conns, 2 minutes (make soak)
//	go run ./cmd/soak -quick     # 2,000 conns, 10 s: checks that it works
//	go run ./cmd/soak -server netecho   # the same against the net package's echo
//
// The server holds every conn, so it needs conns + a few fds; the client side
// is split over -clients processes (copies of this executable, see child.go),
// so that no process needs more than its fd limit. The parent builds and
// starts the server, starts the clients, asks them for their counters once a
// second while it samples the server from /proc, and writes soak.json,
// soak.md, soak.svg (fds) and soak-rss.svg in -out.
//
// Every message is derived from (conn id, sequence number) and its echo is
// compared byte for byte (message.go). A conn closed by churn first has every
// echo verified, then sends its FIN and waits for the server's (hangup.go):
// nothing may arrive in between, and the replacement is dialled only once the
// server has closed the old conn, so the server never holds more than -conns
// soak conns.
//
// Phases: ramp (every conn dialled, messages already flowing), steady
// (-duration with churn: -churn × conns conns closed and replaced per second,
// spread over the second), drain (churn stops, every conn finishes its round
// trip and closes), settle (8 new conns, one at a time, must each be echoed
// by the idle server, and its fd count must come back to what it was before
// the first client). The whole run is bounded by -duration + 3 minutes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// config is the run's settings, from flags.
type config struct {
	conns     int
	clients   int
	duration  time.Duration
	churn     float64
	rate      float64
	loops     int
	server    string // "echo" (examples/echo) or "netecho" (the control)
	warmup    time.Duration
	window    time.Duration
	maxGrowth float64
	quick     bool
	out       string
	command   string // the command line, for the report
}

// Run bounds.
const (
	// rampTimeout bounds the dialling of every conn; 19,000 loopback dials
	// take a few seconds.
	rampTimeout = 60 * time.Second
	// fdSettle is how long the server may take to close its side of every
	// conn once the clients have closed theirs: a few epoll rounds.
	fdSettle = 10 * time.Second
	// clientExit bounds the wait for client processes to exit after their
	// final line.
	clientExit = 5 * time.Second
	// runGrace is the time the hard deadline allows beyond -duration: the
	// build, the start, the ramp, the drain, the settle and the stop.
	runGrace = 3 * time.Minute
)

func main() {
	if c := os.Getenv(clientEnv); c != "" {
		os.Exit(clientMain(c))
	}
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.duration+runGrace)
	defer cancel()
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if err := res.write(os.Stdout, cfg.out); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !res.Passed {
		os.Exit(1)
	}
}

func parseFlags() (config, error) {
	var cfg config
	flag.IntVar(&cfg.conns, "conns", 19000, "concurrent conns held against the server")
	flag.IntVar(&cfg.clients, "clients", 2, "client processes the conns are split between (each needs its share + 64 fds)")
	flag.DurationVar(&cfg.duration, "duration", 2*time.Minute, "length of the steady phase, with churn, after every conn is open")
	flag.Float64Var(&cfg.churn, "churn", 0.10, "fraction of the conns closed and replaced every second")
	flag.Float64Var(&cfg.rate, "rate", 0.5, "messages per conn per second, on average")
	flag.IntVar(&cfg.loops, "loops", 0, "the echo server's event loops (0 = one per CPU)")
	flag.StringVar(&cfg.server, "server", "echo", "server under test: echo (sycamore's examples/echo) or netecho (servers/netecho, the net package's echo, as a control)")
	flag.DurationVar(&cfg.warmup, "warmup", 20*time.Second, "start of the steady phase left out of the RSS comparison")
	flag.DurationVar(&cfg.window, "window", 30*time.Second, "length of the two RSS windows compared (after warm-up, and at the end)")
	flag.Float64Var(&cfg.maxGrowth, "rss-growth", 0.10, "largest RSS growth between the two windows that counts as flat (growth under 4 MiB always does)")
	flag.BoolVar(&cfg.quick, "quick", false, "2,000 conns for 10 s (2 s warm-up, 4 s windows): checks that soak works")
	flag.StringVar(&cfg.out, "out", "results", "directory for soak.json, soak.md, soak.svg and soak-rss.svg")
	flag.Parse()
	if cfg.quick {
		cfg.conns, cfg.duration, cfg.warmup, cfg.window = 2000, 10*time.Second, 2*time.Second, 4*time.Second
	}
	args := []string{"go run ./cmd/soak"}
	flag.Visit(func(f *flag.Flag) { args = append(args, "-"+f.Name+"="+f.Value.String()) })
	cfg.command = strings.Join(args, " ")
	return cfg, cfg.check()
}

func (cfg config) check() error {
	switch {
	case cfg.conns < 1 || cfg.clients < 1 || cfg.clients > cfg.conns:
		return fmt.Errorf("-conns %d, -clients %d: want 1 ≤ clients ≤ conns", cfg.conns, cfg.clients)
	case cfg.rate <= 0:
		return fmt.Errorf("-rate %v: want more than 0", cfg.rate)
	case cfg.churn < 0 || cfg.churn > 1:
		return fmt.Errorf("-churn %v: want 0 to 1", cfg.churn)
	case cfg.warmup < 0 || cfg.window <= 0 || cfg.warmup+2*cfg.window > cfg.duration:
		return fmt.Errorf("-warmup %v and two -window %v must fit in -duration %v", cfg.warmup, cfg.window, cfg.duration)
	case cfg.server != "echo" && cfg.server != "netecho":
		return fmt.Errorf("-server %q: want echo or netecho", cfg.server)
	case cfg.maxGrowth <= 0:
		return fmt.Errorf("-rss-growth %v: want more than 0", cfg.maxGrowth)
	}
	return nil
}
