// Package loop is one event loop: a poller, the targets registered on it, timers,
// and a queue of tasks submitted from other goroutines. sycamore runs one Loop per
// OS thread; the shard package runs many.
//
// A round (DispatchOnce) is: wait for events (never longer than the nearest timer),
// hand each event to its Target, run the timers that are due, run the tasks
// submitted so far, then close the fds released during the round. Because fds are
// closed only at the end of the round, an fd number can never be reused by a new
// target while events for its old owner are still in the batch.
//
// # Goroutines
//
// Exactly one goroutine drives a Loop: the one in Run, or the one that calls
// DispatchOnce or Iterate by hand. Methods say in their doc whether they are for the
// loop goroutine only (they may also be called before the loop first runs) or safe
// from any goroutine. Submit is the bridge: it hands a function to the loop
// goroutine.
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
// target.
type Filterer interface {
	Filter() poller.Interest
}

// Finalizer is an optional Target method called when the loop gives the target up
// without the target asking: after its handler panicked, or when the Loop closes
// with the target still registered. Finalize must release the target (Release or
// Unregister) and must not block. Targets without it are released by the loop.
type Finalizer interface {
	Finalize(err error)
}

// RoundEnder is a target that asked, through AtRoundEnd, to be called once at the
// end of the round: transport.Conn uses it to write in one syscall everything that
// tasks, timers and other conns' handlers queued on it during the round.
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
	// SpinWait, when positive, makes a round that would block first poll
	// without blocking for up to this long: events that arrive meanwhile are
	// handled without the thread going to sleep and being woken (a context
	// switch each way). It trades CPU for latency; 0 (the default) blocks at
	// once. See BenchmarkSpinWait and benchmarks/RESULTS.md for when it pays.
	SpinWait time.Duration
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
	// ErrRegistered is returned by Register for an fd that already has a target.
	ErrRegistered = errors.New("loop: fd already registered")
	// ErrNotRegistered is returned for a target that is not registered here.
	ErrNotRegistered = errors.New("loop: target not registered")
	// ErrBadFd is returned by Register for a negative fd.
	ErrBadFd = errors.New("loop: bad fd")
)

// PanicError is what OnError receives when a handler, task or timer panics.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("loop: handler panic: %v", e.Value) }

// slot is one registered target. Slots are kept dense; fdIndex maps an fd to its
// slot, so lookup is two slice reads and no map.
type slot struct {
	t       Target
	fd      int32
	want    poller.Interest // what the target asked for
	kernel  poller.Interest // what the poller holds; 0 means not in the poller
	oneshot bool            // a DeferWrite notification is pending
	filters bool            // t implements Filterer
	dirty   bool            // interest changed while the target's handler ran
}

// Loop is one event loop. Create it with New.
type Loop struct {
	cfg     Config
	p       *poller.Poller
	events  []poller.Event
	readBuf []byte
	logger  *slog.Logger

	fdIndex  []int32 // fd → slot index + 1; 0 means no target
	slots    []slot
	released []int // fds released during event dispatch, closed after it
	roundEnd []RoundEnder
	spareEnd []RoundEnder
	current  int // fd whose handler is running, -1 between handlers
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

// New creates a loop with its own poller.
func New(cfg Config) (*Loop, error) {
	if cfg.EventBatch <= 0 {
		cfg.EventBatch = DefaultEventBatch
	}
	if cfg.ReadBufferSize <= 0 {
		cfg.ReadBufferSize = DefaultReadBufferSize
	}
	if cfg.CPU < NoPin {
		return nil, fmt.Errorf("loop: CPU %d: want NoPin (-1) or a CPU number", cfg.CPU)
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
		current: -1,
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

// InLoop reports whether the caller is the loop goroutine: the goroutine in Run, or
// for a loop driven by hand, the first goroutine that called DispatchOnce. It costs
// about a microsecond; hot paths should know where they are instead. Safe from any
// goroutine.
func (l *Loop) InLoop() bool {
	owner := l.owner.Load()
	return owner != 0 && owner == goroutineID()
}
