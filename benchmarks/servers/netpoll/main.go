// Command netpoll is the cloudwego/netpoll peer server for the load
// benchmarks. With -mode http (the default) it is a minimal HTTP/1.1 server
// that answers every request with "Hello, World!"; with -mode echo it echoes
// what it reads. Both run on netpoll's own event loops (netpoll.NewEventLoop
// serving a listener from netpoll.CreateListener), with netpoll's default
// loop count unless -loops is given.
//
// Usage:
//
//	netpoll -addr 127.0.0.1:8080 [-mode http|echo] [-loops N]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cloudwego/netpoll"
)

func main() {
	addr := flag.String("addr", "", "listen address, host:port (required)")
	mode := flag.String("mode", "http", "http (plaintext HTTP/1.1) or echo")
	loops := flag.Int("loops", 0, "netpoll poller count (0: netpoll's default, GOMAXPROCS/20+1)")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "netpoll: -addr is required")
		os.Exit(2)
	}
	var onRequest netpoll.OnRequest
	switch *mode {
	case "http":
		startDateClock()
		onRequest = serveHTTP
	case "echo":
		onRequest = serveEcho
	default:
		fmt.Fprintf(os.Stderr, "netpoll: -mode %q: want http or echo\n", *mode)
		os.Exit(2)
	}
	if *loops > 0 {
		if err := netpoll.SetNumLoops(*loops); err != nil {
			log.Fatalf("netpoll: %v", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ln, err := netpoll.CreateListener("tcp", *addr)
	if err != nil {
		log.Fatalf("netpoll: %v", err)
	}
	evl, err := netpoll.NewEventLoop(onRequest)
	if err != nil {
		log.Fatalf("netpoll: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- evl.Serve(ln) }()
	select {
	case err := <-errc:
		log.Fatalf("netpoll: serve: %v", err)
	case <-ctx.Done():
	}
	// Shutdown closes idle connections and waits for busy ones; the
	// benchmark has stopped sending by now, so 2 s is plenty.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := evl.Shutdown(shutdownCtx); err != nil {
		log.Printf("netpoll: shutdown: %v", err)
	}
}

// serveEcho writes back everything buffered on conn. netpoll calls it again
// while input remains, one call at a time per connection.
func serveEcho(_ context.Context, conn netpoll.Connection) error {
	r, w := conn.Reader(), conn.Writer()
	in, err := r.Next(r.Len())
	if err != nil {
		return conn.Close()
	}
	out, err := w.Malloc(len(in))
	if err != nil {
		return conn.Close()
	}
	copy(out, in)
	r.Release() // in is dead from here: free the input buffer's nodes
	return w.Flush()
}
