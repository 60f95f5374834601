// Package cli holds what every example's main shares: the engine flags, and a
// Run that serves until SIGINT or SIGTERM and then shuts down gracefully.
package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sycamore-go/sycamore/balance"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// Flags are the engine settings an example takes from its command line.
type Flags struct {
	Addr      string
	Loops     int
	Pin       bool
	Balance   string
	ReusePort bool
	Workers   int
	Wait      string
	// Drain is how long a signalled server drains before closing what is left.
	Drain time.Duration

	// Conn is the conns' options. Register sets NoDelay, and -idle sets
	// IdleTimeout; the rest is the example's to set.
	Conn transport.Config
	// TLSCert and TLSKey name PEM files (-tls-cert, -tls-key, after
	// RegisterTLS): set, the server speaks TLS with them. ALPN lists the
	// protocols it offers (the example sets it).
	TLSCert, TLSKey string
	ALPN            []string
	// PidFile (-pidfile) names a file that always holds the pid of the process
	// serving: written before the engine starts, by each restarted copy too,
	// and removed at exit by the process it names.
	PidFile string
	// Restarts, when not nil, asks for a graceful restart (shard's
	// Engine.Restart) on each receive; Run feeds it SIGHUP.
	Restarts <-chan os.Signal
	// ProxyProtocol and ProxyTrust (-proxy-protocol, -proxy-trust, after
	// RegisterProxy): require a PROXY protocol header from the listed networks.
	ProxyProtocol bool
	ProxyTrust    string
	// Logger is set by the example, not by flags: nil means text to stderr.
	Logger *slog.Logger
}

// Register adds -addr, -loops, -pin, -balance, -reuseport, -wait, -drain,
// -idle and, when withWorkers, -workers to fs, and returns where their values land.
func Register(fs *flag.FlagSet, defaultAddr string, withWorkers bool) *Flags {
	// Request-response servers want their replies out at once, not held back
	// by Nagle's algorithm until the previous one is acknowledged.
	f := &Flags{Conn: transport.Config{NoDelay: true}}
	fs.StringVar(&f.Addr, "addr", defaultAddr, "address to listen on: host:port, or unix:/path for a unix socket")
	fs.IntVar(&f.Loops, "loops", 0, "event loops (0 = one per CPU)")
	fs.BoolVar(&f.Pin, "pin", false, "pin loop i to CPU i mod NumCPU (Linux)")
	fs.StringVar(&f.Balance, "balance", "least-connections", "how accepted conns are spread: round-robin, least-connections, source-hash or power-of-two")
	fs.BoolVar(&f.ReusePort, "reuseport", false, "one SO_REUSEPORT listener per loop instead of one acceptor")
	fs.StringVar(&f.Wait, "wait", "auto", "how an idle loop waits: park (its goroutine, in the Go runtime's poller), block (its thread, in epoll_wait/kevent) or auto (park unless pinned)")
	fs.DurationVar(&f.Drain, "drain", 5*time.Second, "on SIGINT/SIGTERM, how long to let conns finish before closing them")
	fs.DurationVar(&f.Conn.IdleTimeout, "idle", 0, "close a conn once this long passes with no byte read or written (e.g. 30s; 0 = never)")
	fs.StringVar(&f.PidFile, "pidfile", "", "write the serving process's pid to this file (a restart on SIGHUP rewrites it)")
	if withWorkers {
		fs.IntVar(&f.Workers, "workers", 64, "worker pool size for blocking work (0 = run it on the loop)")
	}
	return f
}

// RegisterTLS adds -tls-cert and -tls-key to fs: an example that serves TLS
// calls it after Register. alpn lists the protocols it offers (ALPN).
func (f *Flags) RegisterTLS(fs *flag.FlagSet, alpn ...string) {
	fs.StringVar(&f.TLSCert, "tls-cert", "", "serve TLS with this certificate (PEM file, the chain after the leaf); needs -tls-key")
	fs.StringVar(&f.TLSKey, "tls-key", "", "the private key of -tls-cert (PEM file)")
	f.ALPN = alpn
}

// RegisterProxy adds -proxy-protocol and -proxy-trust to fs.
func (f *Flags) RegisterProxy(fs *flag.FlagSet) {
	fs.BoolVar(&f.ProxyProtocol, "proxy-protocol", false, "require a PROXY protocol header (v1 or v2, HAProxy's send-proxy/send-proxy-v2) on every conn")
	fs.StringVar(&f.ProxyTrust, "proxy-trust", "127.0.0.0/8,::1/128", "with -proxy-protocol: the networks (CIDR, comma-separated) a header may come from")
}

// proxy turns -proxy-protocol and -proxy-trust into the engine's setting.
func (f *Flags) proxy() (*transport.ProxyProtocol, error) {
	if !f.ProxyProtocol {
		return nil, nil
	}
	p := &transport.ProxyProtocol{}
	for _, s := range strings.Split(f.ProxyTrust, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("-proxy-trust %q: %w", s, err)
		}
		p.Trusted = append(p.Trusted, n.Masked())
	}
	if len(p.Trusted) == 0 {
		return nil, errors.New("-proxy-protocol needs -proxy-trust to name at least one network")
	}
	return p, nil
}

// tls loads -tls-cert and -tls-key into the conns' TLS settings.
func (f *Flags) tls() (*transport.TLS, error) {
	switch {
	case f.TLSCert == "" && f.TLSKey == "":
		return nil, nil
	case f.TLSCert == "" || f.TLSKey == "":
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(f.TLSCert, f.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert %s -tls-key %s: %w", f.TLSCert, f.TLSKey, err)
	}
	return &transport.TLS{Config: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: f.ALPN}}, nil
}

// Options turns the flags into engine options, rejecting bad values.
func (f *Flags) Options(logger *slog.Logger) (shard.Options, error) {
	b, err := balance.Parse(f.Balance)
	if err != nil {
		return shard.Options{}, err
	}
	if f.Loops < 0 {
		return shard.Options{}, fmt.Errorf("-loops %d: want 0 or more", f.Loops)
	}
	if f.Workers < 0 {
		return shard.Options{}, fmt.Errorf("-workers %d: want 0 or more", f.Workers)
	}
	wait, ok := waitModes[f.Wait]
	if !ok {
		return shard.Options{}, fmt.Errorf("-wait %q: want auto, park or block", f.Wait)
	}
	if f.Conn.IdleTimeout < 0 {
		return shard.Options{}, fmt.Errorf("-idle %v: want 0 or more", f.Conn.IdleTimeout)
	}
	proxy, err := f.proxy()
	if err != nil {
		return shard.Options{}, err
	}
	conn := f.Conn
	if t, err := f.tls(); err != nil {
		return shard.Options{}, err
	} else if t != nil {
		conn.TLS = t
	}
	return shard.Options{
		Loops:           f.Loops,
		Pin:             f.Pin,
		Balancer:        b,
		ReusePort:       f.ReusePort,
		Workers:         f.Workers,
		Wait:            wait,
		Conn:            conn,
		Proxy:           proxy,
		Logger:          logger,
		ShutdownTimeout: f.Drain,
	}, nil
}

// waitModes are the values -wait takes.
var waitModes = map[string]loop.WaitMode{"": loop.WaitAuto, "auto": loop.WaitAuto, "park": loop.WaitPark, "block": loop.WaitBlock}

// Network splits an address into network and address: "unix:/path" is a unix
// socket, anything else TCP.
func Network(addr string) (network, address string) {
	if len(addr) > 5 && addr[:5] == "unix:" {
		return "unix", addr[5:]
	}
	return "tcp", addr
}

// Run builds the engine from f, calls setup for the handler (the engine's loops
// exist but do not run yet; e.Loops() lists them), listens on f.Addr, and serves
// until SIGINT or SIGTERM, then drains for f.Drain and stops.
func Run(f *Flags, setup func(e *shard.Engine) (transport.Handler, error)) error {
	return runWithSignals(f, func(ctx context.Context) error { return Serve(ctx, f, setup, nil) })
}

// RunPacket is Run for a datagram server: setup's handler serves -addr over
// UDP (or unixgram, with "unix:PATH"), one socket per loop.
func RunPacket(f *Flags, setup func(e *shard.Engine) (transport.PacketHandler, error)) error {
	return runWithSignals(f, func(ctx context.Context) error { return ServePacket(ctx, f, setup, nil) })
}

// runWithSignals runs serve until SIGINT or SIGTERM, with SIGHUP asking for a
// restart.
func runWithSignals(f *Flags, serve func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	f.Restarts = hup
	return serve(ctx)
}

// Serve is Run with the context given: it serves until ctx ends. ready, when not
// nil, is called with the engine once it runs (tests read its address).
func Serve(ctx context.Context, f *Flags, setup func(e *shard.Engine) (transport.Handler, error), ready func(*shard.Engine)) error {
	return serve(ctx, f, func(e *shard.Engine) error {
		h, err := setup(e)
		if err != nil {
			return err
		}
		network, address := Network(f.Addr)
		_, err = e.Listen(network, address, h)
		return err
	}, ready)
}

// ServePacket is Serve for a datagram server (see RunPacket).
func ServePacket(ctx context.Context, f *Flags, setup func(e *shard.Engine) (transport.PacketHandler, error), ready func(*shard.Engine)) error {
	return serve(ctx, f, func(e *shard.Engine) error {
		h, err := setup(e)
		if err != nil {
			return err
		}
		network, address := Network(f.Addr)
		network = map[string]string{"tcp": "udp", "unix": "unixgram"}[network]
		_, err = e.ListenPacket(network, address, h)
		return err
	}, ready)
}

// serve makes the engine, has listen open what it serves, and runs it.
func serve(ctx context.Context, f *Flags, listen func(e *shard.Engine) error, ready func(*shard.Engine)) error {
	logger := f.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	opts, err := f.Options(logger)
	if err != nil {
		return err
	}
	e, err := shard.New(opts)
	if err != nil {
		return err
	}
	if err := listen(e); err != nil {
		e.Close()
		return err
	}
	if f.PidFile != "" {
		// Before Start: Start tells a restarting parent that this copy serves,
		// and the parent then lets go.
		if err := writePidFile(f.PidFile); err != nil {
			e.Close()
			return err
		}
		defer removePidFile(f.PidFile)
	}
	if err := e.Start(); err != nil {
		return err
	}
	if ready != nil {
		ready(e)
	}
	if f.Restarts != nil {
		done := make(chan struct{})
		defer close(done)
		go restartOnRequest(e, f, logger, done)
	}
	return e.Run(ctx)
}

// restartOnRequest restarts e gracefully on each request from f.Restarts until
// one succeeds (e has then shut down) or done closes. A failed restart leaves e
// serving, and the pid file naming this process again.
func restartOnRequest(e *shard.Engine, f *Flags, logger *slog.Logger, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-f.Restarts:
		}
		logger.Info("sycamore: restarting")
		p, err := e.Restart(context.Background(), shard.RestartOptions{})
		if err == nil || p != nil {
			return // the new copy serves; e has drained
		}
		if f.PidFile != "" {
			if err := writePidFile(f.PidFile); err != nil {
				logger.Error("sycamore: pid file", "err", err)
			}
		}
	}
}

// writePidFile writes this process's pid to path, replacing the file whole
// (write to a temporary file, then rename), so a reader never sees half of it.
func writePidFile(path string) error {
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("-pidfile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("-pidfile: %w", err)
	}
	return nil
}

// removePidFile removes path if it still names this process (after a restart
// it names the new copy).
func removePidFile(path string) {
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		os.Remove(path)
	}
}

// Main is an example's main after its flags are parsed: Run, and on failure
// print "name: error" to stderr and exit with status 1.
func Main(name string, f *Flags, setup func(e *shard.Engine) (transport.Handler, error)) {
	exitOnError(name, Run(f, setup))
}

// MainPacket is Main for a datagram server (see RunPacket).
func MainPacket(name string, f *Flags, setup func(e *shard.Engine) (transport.PacketHandler, error)) {
	exitOnError(name, RunPacket(f, setup))
}

func exitOnError(name string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
