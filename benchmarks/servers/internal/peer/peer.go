// Package peer holds what the peer servers share: the required -addr flag, and
// serving until SIGINT or SIGTERM followed by a bounded graceful shutdown.
package peer

import (
	"context"
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
