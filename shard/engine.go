package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/panjf2000/ants/v2"
	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/balance"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// engineState is where an Engine is in its life. It only moves forward:
// created → running → draining → closed (draining is skipped by Close).
type engineState int32

const (
	created  engineState = iota // New returned; loops not running
	running                     // Start ran
	draining                    // Shutdown began
	closed                      // Close began, or Shutdown finished
)

// Engine is N loops, their listeners, a balancer and a worker pool. Create it
// with New.
type Engine struct {
	opts  Options
	log   *slog.Logger
	epoch time.Time // the engine's clock starts here (see clock)
	bal   balance.Balancer
	nodes []*node
	loads *nodeLoads // a pointer: boxing the struct in the Loads interface would allocate per pick
	pool  *ants.Pool // nil without workers
	// busy counts the works running on the pool. ants' own Running counts idle
	// workers too (until they expire), so it cannot tell whether one is free.
	busy atomic.Int64

	// acceptor is the loop of the hand-off listeners, made on the first Listen
	// that needs one.
	acceptor atomic.Pointer[loop.Loop]

	// life serialises the lifecycle: Start, Listen, Shutdown's closing of the
	// listeners, and finish. It may be held while waiting for a loop, because no
	// loop goroutine ever takes it (the methods that do refuse to run on one).
	// State changes happen under it; state is atomic for lock-free readers.
	life  sync.Mutex
	state atomic.Int32
	// drainBy is the deadline of the Shutdown under way, in UnixNano; 0 for
	// none or no deadline.
	drainBy    atomic.Int64
	restarting atomic.Bool // a Restart runs

	mu        sync.Mutex // guards listeners, specs and addrs; never held while waiting
	listeners []*transport.Listener
	specs     map[*transport.Listener]string // the Listen call ("network address") each answers, for Restart
	addrs     []net.Addr

	conns   atomic.Int64  // open and handed-off conns, for MaxConns
	refused atomic.Uint64 // conns the acceptor closed at once (MaxConns)

	running    sync.WaitGroup // one per loop goroutine
	runErr     atomic.Error   // the first error a loop's Run returned
	died       chan struct{}  // closed when a loop's Run failed: nobody waits for it then
	diedOnce   sync.Once
	finishOnce sync.Once
	stopped    chan struct{} // closed once every loop is closed and the pool released
}

// New creates an engine and its loops; nothing runs until Start or Run. Safe from
// any goroutine.
func New(opts Options) (*Engine, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Loops == 0 {
		opts.Loops = runtime.NumCPU()
	}
	e := &Engine{opts: opts, log: opts.Logger, bal: opts.Balancer, epoch: time.Now(),
		stopped: make(chan struct{}), died: make(chan struct{}), specs: map[*transport.Listener]string{}}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.bal == nil {
		e.bal = balance.LeastConnections()
	}
	for i := 0; i < opts.Loops; i++ {
		cpu := loop.NoPin
		if opts.Pin {
			cpu = i % runtime.NumCPU()
		}
		l, err := loop.New(loop.Config{ID: i, CPU: cpu, Logger: e.log, Wait: opts.Wait})
		if err != nil {
			e.closeLoops()
			return nil, fmt.Errorf("shard: loop %d: %w", i, err)
		}
		e.nodes = append(e.nodes, newNode(e, i, l))
	}
	e.loads = &nodeLoads{nodes: e.nodes, clock: e.clock}
	if opts.Workers > 0 {
		pool, err := ants.NewPool(opts.Workers, ants.WithNonblocking(true), ants.WithLogger(antsLogger{e.log}))
		if err != nil {
			e.closeLoops()
			return nil, fmt.Errorf("shard: worker pool: %w", err)
		}
		e.pool = pool
	}
	return e, nil
}

// antsLogger sends the pool's rare messages to the engine's logger.
type antsLogger struct{ log *slog.Logger }

func (a antsLogger) Printf(format string, args ...any) {
	a.log.Warn("shard: worker pool: " + fmt.Sprintf(format, args...))
}

// clock returns monotonic nanoseconds since the engine was made.
func (e *Engine) clock() int64 { return int64(time.Since(e.epoch)) }

func (e *Engine) getState() engineState { return engineState(e.state.Load()) }

// Loops returns the engine's loops, loop i at index i (its ID is i). Use them for
// loop-wide state such as timers (through Submit). Safe from any goroutine.
func (e *Engine) Loops() []*loop.Loop {
	ls := make([]*loop.Loop, len(e.nodes))
	for i, n := range e.nodes {
		ls[i] = n.l
	}
	return ls
}

// Addrs returns the addresses the engine listens on, in the order Listen bound
// them (one per Listen call, also with ReusePort). Safe from any goroutine.
func (e *Engine) Addrs() []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]net.Addr(nil), e.addrs...)
}

// inAnyLoop reports whether the caller runs on one of the engine's loops.
func (e *Engine) inAnyLoop() bool {
	for _, n := range e.nodes {
		if n.l.InLoop() {
			return true
		}
	}
	acceptor := e.acceptor.Load()
	return acceptor != nil && acceptor.InLoop()
}

// Start starts every loop on a goroutine of its own and returns once they all
// run (pinned, with Pin). Starting a running engine does nothing; after Shutdown
// or Close it returns ErrClosed. Not on a loop goroutine.
func (e *Engine) Start() error {
	if e.inAnyLoop() {
		return ErrInLoop
	}
	e.life.Lock()
	switch e.getState() {
	case running:
		e.life.Unlock()
		return nil
	case draining, closed:
		e.life.Unlock()
		return ErrClosed
	}
	loops := e.Loops()
	if acceptor := e.acceptor.Load(); acceptor != nil {
		loops = append(loops, acceptor)
	}
	var err error
	for _, l := range loops {
		if err = e.startLoop(l); err != nil {
			break
		}
	}
	if err == nil {
		e.state.Store(int32(running))
	}
	e.life.Unlock()
	if err != nil {
		e.Close()
		return err
	}
	inherit().serving(e) // a restarted copy tells its parent it serves
	e.log.Info("sycamore: engine started", "loops", len(e.nodes), "pin", e.opts.Pin,
		"balancer", balancerName(e.bal), "reuseport", e.opts.ReusePort,
		"workers", e.opts.Workers, "addrs", fmt.Sprint(e.Addrs()))
	return nil
}

// startLoop runs l on a goroutine of its own and waits until it runs a first
// task, or until Run fails (a pinning error, say).
func (e *Engine) startLoop(l *loop.Loop) error {
	started := make(chan struct{})
	exited := make(chan error, 1)
	if err := l.Submit(func() { close(started) }); err != nil {
		return fmt.Errorf("shard: loop %d: %w", l.ID(), err)
	}
	e.running.Add(1)
	go func() {
		defer e.running.Done()
		err := l.Run(context.Background())
		exited <- err
		if err != nil {
			e.loopFailed(l, err)
		}
	}()
	select {
	case <-started:
		return nil
	case err := <-exited:
		if err == nil {
			err = loop.ErrClosed
		}
		return fmt.Errorf("shard: start loop %d: %w", l.ID(), err)
	}
}

// loopFailed handles a loop whose Run returned an error (its poller failed, or
// pinning did): the engine cannot serve that loop's share of conns, so it stops
// as a whole, and Run reports the error.
func (e *Engine) loopFailed(l *loop.Loop, err error) {
	l.Stop() // later Submits fail at once instead of waiting for a dead loop
	e.runErr.CompareAndSwap(nil, err)
	e.diedOnce.Do(func() { close(e.died) })
	e.log.Error("sycamore: loop stopped", "loop", l.ID(), "err", err)
	go e.Close()
}

// Run starts the engine if it is not running yet and blocks until it stops: after
// Shutdown or Close, or once ctx ends, when Run itself shuts the engine down
// (draining for Options.ShutdownTimeout, or closing at once if that is 0). It
// returns nil, or the error that stopped a loop or the start. Run called once
// Shutdown or Close has begun waits for the stop and reports the same, so a Run
// racing with a Shutdown behaves the same whichever comes first. Not on a loop
// goroutine.
func (e *Engine) Run(ctx context.Context) error {
	if e.inAnyLoop() {
		return ErrInLoop
	}
	if err := e.Start(); err != nil {
		if !errors.Is(err, ErrClosed) {
			return err
		}
		// Shutdown or Close (or a failed loop) came first, perhaps while this
		// goroutine was starting: wait for the stop like a Run called a moment
		// earlier, and report the same.
		<-e.stopped
		return e.runErr.Load()
	}
	select {
	case <-e.stopped:
	case <-ctx.Done():
		if e.opts.ShutdownTimeout > 0 {
			sctx, cancel := context.WithTimeout(context.Background(), e.opts.ShutdownTimeout)
			e.Shutdown(sctx)
			cancel()
		} else {
			e.Close()
		}
		<-e.stopped
	}
	return e.runErr.Load()
}

// Serve is the one-line server: New(opts), Listen(network, address, h), then
// Run(ctx). Not on a loop goroutine (Run refuses to run there).
func Serve(ctx context.Context, network, address string, h transport.Handler, opts Options) error {
	e, err := New(opts)
	if err != nil {
		return err
	}
	if _, err := e.Listen(network, address, h); err != nil {
		e.Close()
		return err
	}
	return e.Run(ctx)
}
