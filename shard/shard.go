// Package shard is sycamore's engine: N event loops, each a goroutine that parks in
// the Go runtime's poller when idle (or, pinned to a CPU, runs on its own locked
// OS thread), fed with connections by a load balancer, with an optional worker
// pool for blocking work.
//
//	e, err := shard.New(shard.Options{Loops: 4, Pin: true, Workers: 64})
//	if err != nil { ... }
//	addr, err := e.Listen("tcp", "127.0.0.1:8080", handler)
//	if err != nil { ... }
//	err = e.Run(ctx) // until ctx ends, Shutdown or Close
//
// # Accepting
//
// By default one acceptor loop (unpinned) accepts in batches until EAGAIN and
// hands each socket to the loop the Balancer picks, through that loop's Submit and
// wakeup fd. With Options.ReusePort every loop has its own SO_REUSEPORT listener
// and the kernel spreads the connections; there is no hand-off (unix sockets
// still go through the acceptor, and so do inherited sockets: ListenFile,
// ListenListener, and those a restarted copy takes over). With Options.Proxy
// each listener reads a conn's PROXY header before handing it on, so the
// Balancer sees the client's address.
//
// # Restarting
//
// Restart starts a new copy of the program that inherits every listening
// socket and, once it serves, drains this engine: connects never meet a closed
// socket. ListenerFiles hands the sockets on by other means, and
// SystemdListeners takes those of systemd's socket activation.
//
// # Guarantees
//
//   - A conn lives on one loop for its whole life; its handler runs only there.
//   - Offload's done runs on the conn's loop, in the order Offload was called for
//     that conn, exactly once for every Offload that returned nil, even when the
//     conn closed meanwhile — unless Close (or a Shutdown whose ctx ended) stops
//     the loops while its work still runs: that done is dropped.
//   - Shutdown refuses new connections at once, waits for in-flight offloads and
//     queued writes, closes each conn once it is idle, force-closes what is left
//     when its ctx ends, and returns once every loop has stopped. Close does the
//     same without waiting.
//   - After Shutdown or Close returns, no loop goroutine or fd of the engine is
//     left, nor any pool goroutine, except workers still running an offloaded
//     work (they end with it).
//   - On conns of the engine, Conn.Handler returns the engine's wrapper of the
//     handler given to Listen or Dial, not that handler itself.
//
// # Goroutines
//
// Engine methods are safe from any goroutine unless their doc says otherwise.
// Those that wait for the loops (Start, Listen, Shutdown, Close) refuse to run on
// a loop goroutine, where they would wait for themselves; Dial and Offload are
// meant for loop goroutines too.
package shard

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sycamore-go/sycamore/balance"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// Options configures an Engine. The zero value is a working engine: one loop per
// CPU, unpinned, least-connections, one listener with hand-off, no worker pool.
type Options struct {
	// Loops is the number of event loops; 0 means runtime.NumCPU().
	Loops int
	// Pin locks loop i's thread to CPU i mod NumCPU with sched_setaffinity
	// (Linux only; Start fails elsewhere). The acceptor loop is never pinned.
	Pin bool
	// Balancer picks the loop for each accepted conn; nil means
	// balance.LeastConnections(). It is not used with ReusePort.
	Balancer balance.Balancer
	// ReusePort gives every loop its own SO_REUSEPORT listener on each TCP
	// address, so the kernel spreads conns and no hand-off is needed.
	ReusePort bool
	// Workers is the size of the worker pool for Offload; 0 means no pool (and
	// Offload returns ErrNoWorkers).
	Workers int
	// MaxInFlight caps the offloads in flight per conn; beyond it Offload returns
	// ErrOverloaded. 0 means no cap beyond the pool's size.
	MaxInFlight int
	// Proxy, when set, makes every listener require a PROXY protocol header (v1
	// or v2) from a trusted balancer on each conn; the header is read before
	// the conn's loop is picked, so source-hash balancing keys on the client's
	// address, and Conn.RemoteAddr reports it. See transport.ProxyProtocol.
	Proxy *transport.ProxyProtocol
	// Conn configures every conn the engine accepts or dials. Its TLS, when set,
	// makes the listeners serve TLS (Dial leaves it out; see DialConfig).
	Conn transport.Config
	// Packet configures the datagram sockets of ListenPacket (ReusePort is
	// set for udp).
	Packet transport.PacketConfig
	// Logger receives the engine's and the loops' logs; nil means slog.Default().
	Logger *slog.Logger
	// MaxConns caps the open conns of the whole engine: a conn accepted above it
	// is closed at once and counted in Stats as refused. 0 means no cap.
	MaxConns int
	// Wait is every loop's loop.Config.Wait: how a loop with nothing to do
	// waits. The zero value parks unpinned loops in the Go runtime's poller and
	// blocks pinned ones in the kernel.
	Wait loop.WaitMode
	// ShutdownTimeout is how long Run drains (as Shutdown) once its ctx ends
	// before force-closing; 0 means Run closes at once (as Close).
	ShutdownTimeout time.Duration
}

var (
	// ErrOverloaded is returned by Offload when the worker pool is busy or the
	// conn has MaxInFlight offloads in flight. The conn's reads are paused until
	// its offloads have completed and a worker is free; leave the request unread
	// and it is offered to OnData again then.
	ErrOverloaded = errors.New("shard: overloaded")
	// ErrNoWorkers is returned by Offload when Options.Workers is 0.
	ErrNoWorkers = errors.New("shard: no worker pool (Options.Workers is 0)")
	// ErrClosed is returned once Shutdown or Close has begun.
	ErrClosed = errors.New("shard: engine closed")
	// ErrInLoop is returned by the methods that wait for the loops when they are
	// called on a loop goroutine, where they would wait for themselves.
	ErrInLoop = errors.New("shard: called on a loop goroutine; call it from another goroutine")
	// ErrForeignConn is returned by Offload for a conn that is not on one of the
	// engine's loops.
	ErrForeignConn = errors.New("shard: conn does not belong to this engine")
)

// Busier is an optional Handler method that Shutdown consults: a conn whose
// handler reports it busy is not closed as idle, even with nothing buffered
// either way. A proxy, say, is busy while its upstream owes a reply.
type Busier interface {
	Busy(c *transport.Conn) bool
}

func (o *Options) validate() error {
	switch {
	case o.Loops < 0:
		return fmt.Errorf("shard: Options.Loops %d: want 0 (one per CPU) or more", o.Loops)
	case o.Workers < 0:
		return fmt.Errorf("shard: Options.Workers %d: want 0 (no pool) or more", o.Workers)
	case o.MaxInFlight < 0:
		return fmt.Errorf("shard: Options.MaxInFlight %d: want 0 (no cap) or more", o.MaxInFlight)
	case o.MaxConns < 0:
		return fmt.Errorf("shard: Options.MaxConns %d: want 0 (no cap) or more", o.MaxConns)
	case o.Wait > loop.WaitBlock:
		return fmt.Errorf("shard: Options.Wait %v: want loop.WaitAuto, WaitPark or WaitBlock", o.Wait)
	case o.Wait == loop.WaitPark && o.Pin:
		return fmt.Errorf("shard: Options.Wait %v with Pin: a pinned loop keeps its thread, so it blocks", o.Wait)
	case o.ShutdownTimeout < 0:
		return fmt.Errorf("shard: Options.ShutdownTimeout %v: want 0 or more", o.ShutdownTimeout)
	}
	if err := o.Conn.Validate(); err != nil {
		return fmt.Errorf("shard: Options.Conn: %w", err)
	}
	if err := o.Packet.Validate(); err != nil {
		return fmt.Errorf("shard: Options.Packet: %w", err)
	}
	return nil
}

// balancerName names a balancer for the logs.
func balancerName(b balance.Balancer) string {
	if s, ok := b.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", b)
}
