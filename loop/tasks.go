package loop

import (
	"errors"
	"sync"

	"go.uber.org/atomic"
)

// taskQueue is the Submit queue: many producers, one consumer (the loop). Two
// slices swap roles each round, so steady-state use allocates nothing.
type taskQueue struct {
	mu     sync.Mutex
	queue  []func()
	spare  []func()
	closed bool
	// queued mirrors len(queue) for readers that must not take the lock: the loop
	// checks it before sleeping, and Submit's wake decision depends on that order.
	queued atomic.Int64
}

// push queues task and, if asleep reports true, calls wake. Every wake of the
// loop's poller happens under q.mu, and Loop.Close closes the poller under q.mu
// too (through locked), so no wake can ever write to a closed, possibly reused, fd.
func (q *taskQueue) push(task func(), asleep func() bool, wake func() error) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.queue = append(q.queue, task)
	q.queued.Inc()
	if asleep() {
		return wake()
	}
	return nil
}

// take returns the tasks queued so far, in order. The caller runs them, then hands
// the slice back with recycle so it can be reused.
func (q *taskQueue) take() []func() {
	q.mu.Lock()
	batch := q.queue
	q.queue = q.spare[:0]
	q.spare = nil
	q.queued.Sub(int64(len(batch)))
	q.mu.Unlock()
	return batch
}

func (q *taskQueue) recycle(batch []func()) {
	clear(batch) // drop the closures so they can be collected
	q.mu.Lock()
	if q.spare == nil {
		q.spare = batch[:0]
	}
	q.mu.Unlock()
}

// close refuses further tasks and runs final (a last wake) under the lock.
func (q *taskQueue) close(final func()) {
	q.mu.Lock()
	q.closed = true
	final()
	q.mu.Unlock()
}

// locked runs f under the queue's lock, excluding every wake.
func (q *taskQueue) locked(f func()) {
	q.mu.Lock()
	f()
	q.mu.Unlock()
}

// Submit queues task to run on the loop goroutine, after the events of the current
// or next round, in the order of Submit calls. It wakes the loop only if it is
// asleep, and bursts of wakes coalesce into one syscall. Safe from any goroutine,
// the loop goroutine included; it returns ErrClosed after Stop.
func (l *Loop) Submit(task func()) error {
	if task == nil {
		return errors.New("loop: Submit of a nil task")
	}
	return l.tasks.push(task, l.asleep, l.p.Wake)
}

func (l *Loop) asleep() bool { return !l.awake.Load() }

// runTasks runs the tasks queued before it started; tasks they submit run next
// round.
func (l *Loop) runTasks() int {
	if l.tasks.queued.Load() == 0 {
		return 0
	}
	batch := l.tasks.take()
	for _, task := range batch {
		l.runGuarded(nil, task)
	}
	l.tasks.recycle(batch)
	return len(batch)
}
