// Package loop is one event loop: a poller, the targets registered on it, timers,
// and a queue of tasks submitted from other goroutines, driven by one goroutine:
// parked in the Go runtime's poller when it has nothing to do, or locked to its own
// OS thread (and pinned to a CPU) and blocked in the kernel (see WaitMode). The
// shard package runs many.
//
// A round (DispatchOnce) is, in order: wait for events (never longer than the
// nearest timer), hand each event to its target, close the fds released while
// doing so, run the timers that are due, run the tasks submitted so far, then the
// round-end calls targets asked for (Registration.AtRoundEnd). Because released fds
// are closed only after the whole batch of events, an fd number can never be
// reused by a new target while events for its old owner are still in the batch.
//
// # Registrations
//
// Every registered target has one Registration: its place on the loop and its
// owner's handle (as mio's Token, or the Go runtime's pollDesc). The interest the
// target wants, whether a write notification is armed, and what the poller holds
// live there and nowhere else. Changes made inside the target's own callback are
// applied to the poller once, when the callback returns; changes made elsewhere at
// once. Register hands out a fresh Registration; Attach uses one the caller embeds
// in its target, so that registering allocates nothing (transport does this for
// every conn).
//
// # Callbacks
//
// The loop runs every target callback the same way: an event's HandleEvent, a
// round end's OnRoundEnd, and whatever an owner runs through Registration.Call. A
// panic in any of them is reported to Config.OnError as a *PanicError and gives the
// target up: its Finalize (Finalizer) runs, or the loop releases it. The loop and
// the other targets live on.
//
// # Goroutines
//
// Exactly one goroutine drives a Loop: the one in Run, or the one that calls
// DispatchOnce or Iterate by hand. Methods say in their doc whether they are for the
// loop goroutine only (they may also be called before any goroutine drives the
// loop) or safe from any goroutine. Submit is the bridge: it hands a function to
// the loop goroutine. Built with the sycamore_checkowner tag, the loop-only
// methods of loop and transport panic when called from another goroutine.
package loop

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/poller"
)

// Target is anything the loop watches: a socket, a listener, a pipe. The seed's
// IDispatchTarget. Targets must be comparable (in practice, pointers).
type Target interface {
	// Fd is the OS fd the target watches; it must not change while registered.
	Fd() int
	// HandleEvent is called on the loop goroutine for each event on Fd.
	HandleEvent(ev poller.Event)
}

// Filterer is an optional Target method, the seed's current_dispatch_filter: after
// every event delivered to the target, the loop calls Filter and, if the interest
// changed, tells the poller. The cost is per event delivered, never per registered
// target, and targets without it pay nothing.
type Filterer interface {
	Filter() poller.Interest
}

// Finalizer is an optional Target method called when the loop gives the target up
// without the target asking: after one of its callbacks panicked, when the poller
// refused the interest it set in a callback, or when the Loop closes with the
// target still registered. Finalize must release the target (Release or
// Unregister) and must not block. Targets without it are released by the loop.
type Finalizer interface {
	Finalize(err error)
}

// RoundEnder is an optional Target method, called once at the end of a round in
// which the target asked for it (Registration.AtRoundEnd): transport uses it to
// write in one syscall everything that tasks, timers and other targets' callbacks
// queued on a conn during the round.
type RoundEnder interface {
	OnRoundEnd()
}

// NoPin is the Config.CPU value that leaves the loop thread unpinned.
const NoPin = -1

// Config configures a Loop. The zero value is usable except for CPU: 0 pins to CPU
// 0, so set CPU to NoPin (-1) for an unpinned loop.
type Config struct {
	// ID names the loop in logs and Stats.
	ID int
	// CPU pins the loop's thread to this CPU in Run; NoPin (-1) leaves it unpinned.
	CPU int
	// EventBatch is how many events one Wait may return; 0 means 256.
	EventBatch int
	// ReadBufferSize is the size of the loop's shared read buffer; 0 means 64 KiB.
	ReadBufferSize int
	// OnError receives handler panics (as *PanicError) and other errors the loop
	// cannot return to anyone. t is nil for a task or timer. nil logs with Logger.
	OnError func(t Target, err error)
	// Logger is used by the default OnError and by targets that log; nil means
	// slog.Default().
	Logger *slog.Logger
	// Wait is how a round that finds nothing to do waits; the zero value,
	// WaitAuto, parks an unpinned loop and blocks a pinned one.
	Wait WaitMode
}

// WaitMode is how a loop waits when a round finds nothing ready.
type WaitMode uint8

const (
	// WaitAuto is WaitPark for an unpinned loop and WaitBlock for a pinned one.
	WaitAuto WaitMode = iota
	// WaitPark parks the loop goroutine in the Go runtime's own poller
	// (poller.Park): its thread and P are free while it waits, and Run does not
	// lock the goroutine to a thread. Under load this saves most of the context
	// switches of blocking: see benchmarks/RESULTS.md. A pinned loop cannot park.
	WaitPark
	// WaitBlock blocks the loop's thread in the kernel's wait (poller.Wait), with
	// the goroutine locked to its thread by Run: the seeds' model, and what a
	// pinned loop does.
	WaitBlock
)

// String names the mode. Safe from any goroutine.
func (m WaitMode) String() string {
	switch m {
	case WaitAuto:
		return "auto"
	case WaitPark:
		return "park"
	case WaitBlock:
		return "block"
	}
	return fmt.Sprintf("WaitMode(%d)", uint8(m))
}

// Defaults for zero Config fields.
const (
	DefaultEventBatch     = 256
	DefaultReadBufferSize = 64 << 10
)

var (
	// ErrClosed is returned by Submit after Stop and by every call on a closed Loop.
	ErrClosed = errors.New("loop: closed")
	// ErrRunning is returned by Run when the loop is already running.
	ErrRunning = errors.New("loop: already running")
	// ErrRegistered is returned by Register for an fd that already has a target,
	// and by Attach for a Registration in use.
	ErrRegistered = errors.New("loop: fd already registered")
	// ErrNotRegistered is returned for a target that is not registered here.
	ErrNotRegistered = errors.New("loop: target not registered")
	// ErrBadFd is returned by Register for a negative fd.
	ErrBadFd = errors.New("loop: bad fd")
)

// PanicError is what OnError receives when a callback, task or timer panics.
type PanicError struct {
	Value any
	Stack []byte
}

// Error describes the panic. Safe from any goroutine.
func (e *PanicError) Error() string { return fmt.Sprintf("loop: handler panic: %v", e.Value) }

// Loop is one event loop. Create it with New.
type Loop struct {
	cfg     Config
	p       *poller.Poller
	events  []poller.Event
	readBuf []byte
	logger  *slog.Logger

	// fdIndex maps an fd to its registration: one slice read per event, no map.
	fdIndex    []*Registration
	registered int   // registrations in fdIndex
	released   []int // fds released during event dispatch, closed after it
	roundEnd   []*Registration
	spareEnd   []*Registration
	// current is the registration whose callback is running, nil between them.
	current *Registration
	// dispatching is true while the batch's events are being delivered: fds
	// released then are closed only after the whole batch.
	dispatching bool

	tasks taskQueue
	// awake is false only while the loop goroutine is (about to be) blocked in Wait.
	// Submit skips the wake syscall while the loop is awake; see waitTimeout.
	awake    atomic.Bool
	stopping atomic.Bool

	timers    timerHeap
	dueTimers []*timer
	timerSeq  uint64
	epoch     time.Time
	roundTime time.Time

	owner   atomic.Int64 // goroutine id of the loop goroutine, 0 when none
	running atomic.Bool  // Run is driving the loop
	runMu   sync.Mutex   // held by Run for its whole run; Close takes it to wait
	// closed is guarded by runMu; isClosed mirrors it for lock-free readers.
	closed   bool
	isClosed atomic.Bool

	stats loopStats
}

// New creates a loop with its own poller. Safe from any goroutine; nothing runs
// until Run, DispatchOnce or Iterate.
func New(cfg Config) (*Loop, error) {
	if cfg.EventBatch <= 0 {
		cfg.EventBatch = DefaultEventBatch
	}
	if cfg.ReadBufferSize <= 0 {
		cfg.ReadBufferSize = DefaultReadBufferSize
	}
	switch {
	case cfg.CPU < NoPin:
		return nil, fmt.Errorf("loop: CPU %d: want NoPin (-1) or a CPU number", cfg.CPU)
	case cfg.Wait > WaitBlock:
		return nil, fmt.Errorf("loop: %v: want WaitAuto, WaitPark or WaitBlock", cfg.Wait)
	case cfg.Wait == WaitPark && cfg.CPU != NoPin:
		return nil, fmt.Errorf("loop: CPU %d with WaitPark: a pinned loop keeps its thread, so it blocks (WaitBlock or WaitAuto)", cfg.CPU)
	case cfg.Wait == WaitAuto && cfg.CPU == NoPin:
		cfg.Wait = WaitPark
	case cfg.Wait == WaitAuto:
		cfg.Wait = WaitBlock
	}
	p, err := poller.New()
	if err != nil {
		return nil, err
	}
	l := &Loop{
		cfg:     cfg,
		p:       p,
		events:  make([]poller.Event, cfg.EventBatch),
		readBuf: make([]byte, cfg.ReadBufferSize),
		logger:  cfg.Logger,
		epoch:   time.Now(),
		// Made now, so that the first round with a due timer allocates nothing.
		dueTimers: make([]*timer, 0, 16),
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	l.roundTime = l.epoch
	l.awake.Store(true)
	return l, nil
}

// WaitMode returns how the loop waits: WaitPark or WaitBlock (WaitAuto is
// resolved by New). Safe from any goroutine.
func (l *Loop) WaitMode() WaitMode { return l.cfg.Wait }

// ID returns Config.ID. Safe from any goroutine.
func (l *Loop) ID() int { return l.cfg.ID }

// Logger returns the loop's logger. Safe from any goroutine.
func (l *Loop) Logger() *slog.Logger { return l.logger }

// ReadBuffer returns the loop's one shared read buffer. Its contents are valid only
// until the handler that read into it returns. Loop goroutine only.
func (l *Loop) ReadBuffer() []byte { return l.readBuf }

// Now returns the time the current round's events arrived (a cached clock read,
// cheaper than time.Now for per-event bookkeeping). Loop goroutine only.
func (l *Loop) Now() time.Time { return l.roundTime }

// monotonic returns nanoseconds since the loop was created, on the monotonic clock.
func (l *Loop) monotonic() int64 { return int64(time.Since(l.epoch)) }

// Running reports whether Run is driving the loop. Safe from any goroutine.
func (l *Loop) Running() bool { return l.running.Load() }

// Stopping reports whether Stop (or Close) was called: the loop runs at most
// what is already queued before Run returns. Safe from any goroutine.
func (l *Loop) Stopping() bool { return l.stopping.Load() }

// InLoop reports whether the caller is the loop goroutine: the goroutine in Run, or
// for a loop driven by hand, the first goroutine that called DispatchOnce. It costs
// about a microsecond; hot paths should know where they are instead. Safe from any
// goroutine.
func (l *Loop) InLoop() bool {
	owner := l.owner.Load()
	return owner != 0 && owner == goroutineID()
}

// OnLoop reports whether the caller may call the loop-goroutine-only methods now:
// it is the loop goroutine, or no goroutine drives the loop yet (before Run or the
// first DispatchOnce, and after Run returns). Like InLoop it costs about a
// microsecond. Safe from any goroutine.
func (l *Loop) OnLoop() bool {
	owner := l.owner.Load()
	return owner == 0 || owner == goroutineID()
}

// CheckOwner panics, naming method, unless OnLoop reports true. Loop-only methods
// of loop and transport call it when built with the sycamore_checkowner tag, to
// catch a call from the wrong goroutine (which would otherwise corrupt the loop's
// state silently); without the tag they never call it. Safe from any goroutine.
func (l *Loop) CheckOwner(method string) {
	if !l.OnLoop() {
		panic(fmt.Sprintf("sycamore: %s called from goroutine %d, not the goroutine of loop %d: "+
			"it is for the loop goroutine only (use Submit, or the Async methods)",
			method, goroutineID(), l.cfg.ID))
	}
}
