package loop

import (
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
// loop's poller happens under q.mu, and the poller is closed under q.mu too (see
// closeWith), so no wake can ever write to a closed, possibly reused, fd.
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
// the slice back with done so it can be reused.
func (q *taskQueue) take() []func() {
	q.mu.Lock()
	batch := q.queue
	q.queue = q.spare[:0]
	q.spare = nil
	q.queued.Sub(int64(len(batch)))
	q.mu.Unlock()
	return batch
}

func (q *taskQueue) done(batch []func()) {
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
