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
	"log"

	"github.com/cloudwego/netpoll"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/hello"
	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

func main() {
	cl := peer.ParseDual("netpoll", 0, "netpoll poller count (0: netpoll's default, GOMAXPROCS/20+1)", "")
	onRequest := netpoll.OnRequest(serveEcho)
	if cl.Mode == "http" {
		responder = hello.NewResponder("netpoll")
		onRequest = serveHTTP
	}
	if cl.Loops > 0 {
		// Configure would also reset the load balance to its zero value; this
		// sets the poller count alone, as the peer was measured.
		//lint:ignore SA1019 Configure has no way to set only the poller count.
		if err := netpoll.SetNumLoops(cl.Loops); err != nil {
			log.Fatalf("netpoll: %v", err)
		}
	}
	ln, err := netpoll.CreateListener("tcp", cl.Addr)
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
