// Command gnet is the panjf2000/gnet (v2) peer server for the load
// benchmarks. With -mode http (the default) it is a minimal HTTP/1.1 server
// that answers every request with "Hello, World!", the same responder as the
// netpoll peer's: every complete request buffered on a conn is answered, in
// order, with one write for the batch. With -mode echo it writes back every
// byte it reads. Both run multicore on -loops event loops (2 by default),
// with gnet's defaults otherwise: no SO_REUSEPORT (gnet's main reactor
// accepts and deals conns to the loops round-robin) and no thread locking
// unless -lockthread is given.
//
// Usage:
//
//	gnet -addr 127.0.0.1:8080 [-mode http|echo] [-loops N] [-lockthread]
package main

import (
	"context"
	"errors"
	"sync"

	"github.com/panjf2000/gnet/v2"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/hello"
	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

func main() {
	cl := peer.ParseDual("gnet", 2, "gnet event loops", "lock each event loop to an OS thread (gnet.WithLockOSThread)")
	s := &server{traffic: serveEcho}
	if cl.Mode == "http" {
		s.responder = hello.NewResponder("gnet")
		s.traffic = s.serveHTTP
	}
	serve := func() error {
		return gnet.Run(s, "tcp://"+cl.Addr,
			gnet.WithMulticore(true), gnet.WithNumEventLoop(cl.Loops), gnet.WithLockOSThread(cl.LockThread))
	}
	// Stop closes every conn and waits for the loops to end.
	peer.Serve("gnet", serve, s.stop)
}

// server is the gnet event handler of either mode.
type server struct {
	gnet.BuiltinEventEngine
	traffic   func(gnet.Conn) gnet.Action
	responder *hello.Responder // -mode http

	mu      sync.Mutex
	engine  gnet.Engine
	booted  bool
	batches sync.Pool // *[]byte, the responses of one batch
}

func (s *server) OnBoot(eng gnet.Engine) gnet.Action {
	s.mu.Lock()
	s.engine, s.booted = eng, true
	s.mu.Unlock()
	return gnet.None
}

func (s *server) OnTraffic(c gnet.Conn) gnet.Action { return s.traffic(c) }

// stop shuts the engine down, once it has booted.
func (s *server) stop(ctx context.Context) error {
	s.mu.Lock()
	eng, booted := s.engine, s.booted
	s.mu.Unlock()
	if !booted {
		return errors.New("stopped before the engine booted")
	}
	return eng.Stop(ctx)
}

// serveEcho writes back everything buffered on c: gnet's own echo, a view of
// the loop's read buffer written with one write(2).
func serveEcho(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

// serveHTTP answers every complete request buffered on c, in order, with one
// Write for the batch (so a pipelined burst costs one write(2)). A request
// not yet all in stays buffered (gnet keeps what is not discarded) until the
// next read completes it.
func (s *server) serveHTTP(c gnet.Conn) gnet.Action {
	in, _ := c.Peek(-1)
	batch := hello.Scan(in)
	if batch.Requests > 0 || batch.Err != nil {
		bp, _ := s.batches.Get().(*[]byte)
		if bp == nil {
			bp = new([]byte)
		}
		out := (*bp)[:0]
		response := s.responder.Response()
		for range batch.Requests {
			out = append(out, response...)
		}
		if batch.Err != nil {
			out = append(out, s.responder.Refusal(batch.Err)...)
		}
		c.Write(out) // gnet copies whatever the socket does not take at once
		*bp = out
		s.batches.Put(bp)
	}
	if batch.Used > 0 {
		c.Discard(batch.Used) // not Discard(0): that discards everything
	}
	if batch.Err != nil || batch.Close {
		return gnet.Close // gnet sends what is queued before it closes
	}
	return gnet.None
}
