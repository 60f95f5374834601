// Package fanout is the load generator of the harness's fanout section: RESP2
// publishers and subscribers on one channel of a Redis-compatible server,
// which check that every reading subscriber gets every message in order and
// that the server disconnects the subscribers that do not read.
//
// A run has three phases, so that the caller can measure the server around
// the one that matters:
//
//	run, err := fanout.Subscribe(ctx, load) // dial and SUBSCRIBE every subscriber
//	defer run.Close()
//	res, err := run.Publish(ctx)            // publish for load.Duration, wait for delivery
//	gone, err := run.Disconnected(ctx)      // which non-reading subscribers the server closed
//
// Every conn is a plain TCP conn to the server's address (127.0.0.1 in the
// harness) served by a goroutine of its own: a reading subscriber parses the
// pushed frames, *3\r\n$7\r\nmessage\r\n$<n>\r\n<channel>\r\n$64\r\n<message>\r\n,
// out of a bufio.Reader, allocating nothing per message, and a publisher
// writes its PUBLISH commands a batch at a time into a buffer it rewrites in
// place. Every wait has a deadline: a stuck server fails a run, it does not
// hang it.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// Errors of a run; the errors returned wrap them, with the subscriber or the
// publisher and the figures that show what went wrong.
var (
	// ErrServerReply is an error reply ("-ERR unknown command ...") where the
	// run wanted a SUBSCRIBE confirmation or a PUBLISH count.
	ErrServerReply = errors.New("fanout: the server replied with an error")
	// ErrProtocol is a reply or a push that is not what the run sent for.
	ErrProtocol = errors.New("fanout: unexpected reply")
	// ErrOutOfOrder is a message that is not the next one of its publisher:
	// one missing, repeated or reordered.
	ErrOutOfOrder = errors.New("fanout: message out of order")
	// ErrIncomplete is a reading subscriber still missing messages when the
	// drain deadline passed.
	ErrIncomplete = errors.New("fanout: a reading subscriber did not get every message")
	// ErrReaderDropped is a PUBLISH that reached fewer subscribers than there
	// are reading ones: the server dropped one.
	ErrReaderDropped = errors.New("fanout: the server dropped a reading subscriber")
	// ErrStillConnected is a non-reading subscriber that the server had not
	// disconnected once the publishers were done.
	ErrStillConnected = errors.New("fanout: a non-reading subscriber was not disconnected")
	// ErrFdLimit is a load with more conns than RLIMIT_NOFILE allows.
	ErrFdLimit = errors.New("fanout: not enough fds for the load's conns")
	// ErrBadLoad is a Load that cannot run (no publisher, no duration).
	ErrBadLoad = errors.New("fanout: bad load")
)

// Load is one fan-out load: every subscriber on Channel, every publisher
// publishing to it.
type Load struct {
	Addr    string // the server, host:port
	Channel string // "fanout" when empty
	// Readers read every message pushed to them; Stalled read SUBSCRIBE's
	// reply and then nothing, so the server's output to them only grows.
	Readers, Stalled int
	// Publishers conns publish MessageSize-byte messages, Depth PUBLISH
	// commands in one write, every reply read before the next write, for
	// Duration.
	Publishers, Depth int
	Duration          time.Duration
	// Quiet is how long a non-reading subscriber must get nothing, neither
	// data nor an end, to count as still connected: 2 s when zero.
	Quiet time.Duration
}

// String describes the load in words, for a report's command column.
func (l Load) String() string {
	subs := fmt.Sprintf("%d reading subscribers", l.Readers)
	if l.Stalled > 0 {
		subs = fmt.Sprintf("%d reading + %d non-reading subscribers", l.Readers, l.Stalled)
	}
	return fmt.Sprintf("%s on one channel; %d publisher conns, PUBLISH %d deep, %d-byte messages, for %v",
		subs, l.Publishers, l.Depth, MessageSize, l.Duration)
}

// Result is what Publish measured.
type Result struct {
	Published int64 // PUBLISH replies received
	// Delivered is the messages the reading subscribers received, all of
	// them together: Published times Readers, as Publish checks.
	Delivered int64
	// PublishTime runs from the publishers' start to the last reply;
	// DeliverTime on until every reading subscriber had every message.
	PublishTime, DeliverTime time.Duration
}

// PublishesPerSecond is Published over PublishTime.
func (r Result) PublishesPerSecond() float64 { return perSecond(r.Published, r.PublishTime) }

// DeliveredPerSecond is Delivered over DeliverTime.
func (r Result) DeliveredPerSecond() float64 { return perSecond(r.Delivered, r.DeliverTime) }

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Bounds of a run.
const (
	// dialTimeout bounds each connect, replyTimeout each SUBSCRIBE
	// confirmation and each batch of PUBLISH replies; on loopback they take
	// microseconds, so these only catch a stuck server.
	dialTimeout  = 5 * time.Second
	replyTimeout = 10 * time.Second
	// drainTimeout is how long after the last PUBLISH reply every reading
	// subscriber has to get every message. What is still on its way then is
	// at most the server's output limit (1 MiB, some 10,000 messages) plus
	// the kernel's socket buffers, a few milliseconds of reading.
	drainTimeout = 10 * time.Second
	// defaultQuiet is Load.Quiet's default: a server that has not closed a
	// subscriber within 2 s of the last PUBLISH is not going to.
	defaultQuiet = 2 * time.Second
	// hangUpTimeout bounds the whole wait for one non-reading subscriber's
	// end, however long the data left for it keeps coming.
	hangUpTimeout = 30 * time.Second
	// dialConcurrency caps the subscribers connecting at once, well inside
	// the listen backlog of the servers (511 for redis-server): a dropped
	// SYN would cost a 1 s retransmit.
	dialConcurrency = 64
	// fdReserve is the fds left for everything but the load's conns (the Go
	// runtime, /proc reads, the server's log).
	fdReserve = 64
)

// Run is a load with every conn open. Its methods are for one goroutine:
// Publish, then Disconnected, then Close.
type Run struct {
	load       Load
	channel    []byte
	readers    []*reader
	stalled    []*subscriber
	publishers []*publisher
	// total is how many messages each reader must get: 0 while the
	// publishers publish, then every PUBLISH they had answered.
	total atomic.Int64
}

// Subscribe raises RLIMIT_NOFILE to its hard limit, opens every conn of the
// load, subscribes every subscriber (each has had SUBSCRIBE's reply when it
// returns, so each gets every message published after) and starts the
// reading subscribers' goroutines. Close releases it all.
func Subscribe(ctx context.Context, load Load) (*Run, error) {
	if load.Channel == "" {
		load.Channel = "fanout"
	}
	if load.Quiet <= 0 {
		load.Quiet = defaultQuiet
	}
	if load.Publishers < 1 || load.Publishers > maxPublishers || load.Depth < 1 || load.Duration <= 0 || load.Readers < 0 || load.Stalled < 0 {
		return nil, fmt.Errorf("%w: %+v", ErrBadLoad, load)
	}
	limit, err := harness.RaiseNoFile()
	if err != nil {
		return nil, err
	}
	if conns := load.Readers + load.Stalled + load.Publishers; uint64(conns+fdReserve) > limit {
		return nil, fmt.Errorf("%w: %d conns and %d spare, RLIMIT_NOFILE is %d", ErrFdLimit, conns, fdReserve, limit)
	}
	r := &Run{load: load, channel: []byte(load.Channel)}
	subs, err := subscribeAll(ctx, load.Addr, r.channel, load.Readers+load.Stalled)
	if err != nil {
		return nil, err
	}
	r.stalled = subs[load.Readers:]
	for _, s := range subs[:load.Readers] {
		rd := newReader(s, load.Publishers)
		r.readers = append(r.readers, rd)
		go rd.run(r.channel, &r.total)
	}
	for id := range load.Publishers {
		p, err := dialPublisher(ctx, load.Addr, id, r.channel, load.Depth)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("publisher %d: %w", id, err)
		}
		r.publishers = append(r.publishers, p)
	}
	return r, nil
}

// subscribeAll opens n subscribers, dialConcurrency at a time; on an error it
// closes those it opened.
func subscribeAll(ctx context.Context, addr string, channel []byte, n int) ([]*subscriber, error) {
	subs := make([]*subscriber, n)
	errs := make([]error, n)
	parallel(n, dialConcurrency, func(i int) { subs[i], errs[i] = subscribe(ctx, addr, channel) })
	for i, err := range errs {
		if err != nil {
			for _, s := range subs {
				if s != nil {
					s.conn.Close()
				}
			}
			return nil, fmt.Errorf("subscriber %d of %d: %w", i, n, err)
		}
	}
	return subs, nil
}

// Publish runs the publishers for the load's duration, then waits (at most
// 10 s) until every reading subscriber has had every message that a PUBLISH
// reply counted. It fails on the first error of a publisher (a PUBLISH that
// reached fewer subscribers than there are readers is one) or of a reading
// subscriber (a message out of order), and when a reader is still missing
// messages at the deadline.
func (r *Run) Publish(ctx context.Context) (Result, error) {
	start := time.Now()
	until := start.Add(r.load.Duration)
	replies := make([]int64, len(r.publishers))
	errs := make([]error, len(r.publishers))
	parallel(len(r.publishers), len(r.publishers), func(i int) {
		replies[i], errs[i] = r.publishers[i].publish(until, int64(r.load.Readers))
	})
	res := Result{PublishTime: time.Since(start)}
	for i, err := range errs {
		if err != nil {
			return res, fmt.Errorf("publisher %d, after %d PUBLISH replies: %w", i, replies[i], err)
		}
		res.Published += replies[i]
	}
	r.total.Store(res.Published)
	if err := r.awaitDelivery(ctx, res.Published); err != nil {
		return res, err
	}
	res.DeliverTime = time.Since(start)
	for _, rd := range r.readers {
		res.Delivered += rd.received.Load()
	}
	return res, nil
}

// awaitDelivery waits until every reader has total messages. A reader that
// had them all before total was set has not seen it, so it is marked here.
func (r *Run) awaitDelivery(ctx context.Context, total int64) error {
	for _, rd := range r.readers {
		if rd.received.Load() >= total {
			rd.markComplete()
		}
	}
	deadline := time.NewTimer(drainTimeout)
	defer deadline.Stop()
	for i, rd := range r.readers {
		select {
		case <-rd.complete:
		case <-rd.exited:
			if !rd.isComplete() {
				return fmt.Errorf("reading subscriber %d, after %d of %d messages: %w", i, rd.received.Load(), total, rd.err)
			}
		case <-deadline.C:
			return fmt.Errorf("%w: reading subscriber %d had %d of %d messages %v after the last PUBLISH reply",
				ErrIncomplete, i, rd.received.Load(), total, drainTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Disconnected reads every non-reading subscriber until the server closes it
// (EOF or a reset) or the load's Quiet passes with nothing new, all of them
// at once, and returns how many the server had closed. When some were not,
// the error wraps ErrStillConnected.
func (r *Run) Disconnected(ctx context.Context) (int, error) {
	closed := make([]bool, len(r.stalled))
	errs := make([]error, len(r.stalled))
	parallel(len(r.stalled), len(r.stalled), func(i int) { closed[i], errs[i] = r.stalled[i].hungUp(ctx, r.load.Quiet) })
	gone := 0
	for i, err := range errs {
		if err != nil {
			return gone, fmt.Errorf("non-reading subscriber %d: %w", i, err)
		}
		if closed[i] {
			gone++
		}
	}
	if gone < len(r.stalled) {
		return gone, fmt.Errorf("%w: %d of %d still connected %v after the last message",
			ErrStillConnected, len(r.stalled)-gone, len(r.stalled), r.load.Quiet)
	}
	return gone, nil
}

// parallel calls f(i) for every i below n, each in a goroutine of its own
// and at most limit at once, and returns when every call has.
func parallel(n, limit int, f func(i int)) {
	slots := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			f(i)
			<-slots
		})
	}
	wg.Wait()
}

// Close closes every conn and waits for the reading subscribers' goroutines
// to return.
func (r *Run) Close() {
	for _, p := range r.publishers {
		p.conn.Close()
	}
	for _, s := range r.stalled {
		s.conn.Close()
	}
	for _, rd := range r.readers {
		rd.sub.conn.Close()
	}
	for _, rd := range r.readers {
		<-rd.exited
	}
}
