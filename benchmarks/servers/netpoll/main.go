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

	"github.com/cloudwego/netpoll"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

func main() {
	mode := flag.String("mode", "http", "http (plaintext HTTP/1.1) or echo")
	loops := flag.Int("loops", 0, "netpoll poller count (0: netpoll's default, GOMAXPROCS/20+1)")
	addr := peer.Addr("netpoll")
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
		// Configure would also reset the load balance to its zero value; this
		// sets the poller count alone, as the peer was measured.
		//lint:ignore SA1019 Configure has no way to set only the poller count.
		if err := netpoll.SetNumLoops(*loops); err != nil {
			log.Fatalf("netpoll: %v", err)
		}
	}
	ln, err := netpoll.CreateListener("tcp", addr)
	if err != nil {
		log.Fatalf("netpoll: %v", err)
	}
	evl, err := netpoll.NewEventLoop(onRequest)
	if err != nil {
		log.Fatalf("netpoll: %v", err)
	}
	// Shutdown closes idle connections and waits for busy ones.
	peer.Serve("netpoll", func() error { return evl.Serve(ln) }, evl.Shutdown)
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
