// Package peer holds what the peer servers share: the required -addr flag, the
// -mode and -loops flags of the servers with an http and an echo mode, the
// optional -tls-cert and -tls-key flags of those that can serve TLS, and
// serving until SIGINT or SIGTERM followed by a bounded graceful shutdown.
package peer

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownWait bounds the graceful shutdown: the benchmark has stopped sending
// by the time it signals, so 2 s is plenty.
const shutdownWait = 2 * time.Second

// Addr parses the command line (flags the caller declared included) and returns
// -addr; without it the program exits with a usage error.
func Addr(name string) string {
	addr := flag.String("addr", "", "listen address, host:port (required)")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintf(os.Stderr, "%s: -addr is required\n", name)
		os.Exit(2)
	}
	return *addr
}

// Dual is the command line of a peer server with an http and an echo mode.
type Dual struct {
	Addr       string
	Mode       string // "http" or "echo"
	Loops      int
	LockThread bool // -lockthread: lock each loop to an OS thread
}

// ParseDual declares -mode (http, the default, or echo), -loops (default
// loops, described by loopsUsage) and, unless lockUsage is "", -lockthread,
// then parses the command line as Addr does; a -mode other than http or echo
// is a usage error.
func ParseDual(name string, loops int, loopsUsage, lockUsage string) Dual {
	mode := flag.String("mode", "http", "http (plaintext HTTP/1.1) or echo")
	n := flag.Int("loops", loops, loopsUsage)
	lock := new(bool)
	if lockUsage != "" {
		flag.BoolVar(lock, "lockthread", false, lockUsage)
	}
	addr := Addr(name) // parses: read the flags after it
	d := Dual{Addr: addr, Mode: *mode, Loops: *n, LockThread: *lock}
	if d.Mode != "http" && d.Mode != "echo" {
		fmt.Fprintf(os.Stderr, "%s: -mode %q: want http or echo\n", name, d.Mode)
		os.Exit(2)
	}
	return d
}

// Serve runs serve on a goroutine of its own until it fails (fatal) or a signal
// comes, then calls shutdown with a context bounded by shutdownWait.
func Serve(name string, serve func() error, shutdown func(context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		log.Fatalf("%s: %v", name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	if err := shutdown(sctx); err != nil {
		log.Printf("%s: shutdown: %v", name, err)
	}
}

// ServeStarted is Serve for a server whose start returns once it is serving
// in the background (nbio's engines): it calls start on this goroutine, so
// that shutdown, called here too, comes after it in the race detector's eyes
// as well; a failed start is fatal. Then it waits for a signal and calls
// shutdown as Serve does.
func ServeStarted(name string, start func() error, shutdown func(context.Context) error) {
	if err := start(); err != nil {
		log.Fatalf("%s: %v", name, err)
	}
	Serve(name, func() error { select {} }, shutdown) // serving in the background
}

// TLSFiles are the -tls-cert and -tls-key flags of a peer server that can
// serve TLS: both empty, it serves in the clear, as before.
type TLSFiles struct {
	Cert, Key string
}

// RegisterTLS declares -tls-cert and -tls-key on the command line; call it
// before Addr or ParseDual, which parse it, then check the result with On.
func RegisterTLS() *TLSFiles {
	f := &TLSFiles{}
	flag.StringVar(&f.Cert, "tls-cert", "", "serve TLS with this certificate (PEM file); needs -tls-key")
	flag.StringVar(&f.Key, "tls-key", "", "the private key of -tls-cert (PEM file)")
	return f
}

// On reports whether TLS was asked for; one flag without the other is a usage
// error, and so is TLS for a server that cannot serve it (supported false).
func (f *TLSFiles) On(name string, supported bool) bool {
	switch {
	case f.Cert == "" && f.Key == "":
		return false
	case f.Cert == "" || f.Key == "":
		fmt.Fprintf(os.Stderr, "%s: -tls-cert and -tls-key go together\n", name)
		os.Exit(2)
	case !supported:
		fmt.Fprintf(os.Stderr, "%s: TLS is not served in this mode\n", name)
		os.Exit(2)
	}
	return true
}

// Config loads the certificate and key into a crypto/tls server
// configuration offering alpn (ALPN); a file that does not load is fatal.
func (f *TLSFiles) Config(name string, alpn ...string) *tls.Config {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		log.Fatalf("%s: -tls-cert %s -tls-key %s: %v", name, f.Cert, f.Key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: alpn}
}
