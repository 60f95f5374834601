package fanout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// subscriber is a conn that has subscribed to the load's channel.
type subscriber struct {
	conn net.Conn
	rd   *respReader
}

// subscribe dials addr, sends SUBSCRIBE channel and reads the confirmation.
func subscribe(ctx context.Context, addr string, channel []byte) (*subscriber, error) {
	c, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	s := &subscriber{conn: c, rd: newRESPReader(c)}
	c.SetDeadline(time.Now().Add(replyTimeout))
	if _, err := c.Write(command([]byte("SUBSCRIBE"), channel)); err != nil {
		c.Close()
		return nil, err
	}
	if err := s.rd.subscribed(channel); err != nil {
		c.Close()
		return nil, fmt.Errorf("SUBSCRIBE %s: %w", channel, err)
	}
	c.SetDeadline(time.Time{})
	return s, nil
}

// dial connects to addr within dialTimeout.
func dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	return d.DialContext(ctx, "tcp", addr)
}

// hungUp reads s, throwing the data away, until the server closes it (true)
// or quiet passes with nothing read (false); hangUpTimeout and ctx bound the
// whole wait.
func (s *subscriber) hungUp(ctx context.Context, quiet time.Duration) (bool, error) {
	buf := make([]byte, 32<<10)
	limit := time.Now().Add(hangUpTimeout)
	for time.Now().Before(limit) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		s.conn.SetReadDeadline(time.Now().Add(quiet))
		_, err := s.conn.Read(buf)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
			return true, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			return false, nil
		default:
			return false, err
		}
	}
	return false, fmt.Errorf("still receiving %v after the last PUBLISH", hangUpTimeout)
}

// reader is a reading subscriber: a goroutine of its own reads every message
// pushed to it and checks that each is the next one of its publisher.
type reader struct {
	sub *subscriber
	// next is the sequence number each publisher's next message must carry
	// (reader goroutine only).
	next []uint64
	// received counts the messages read, every one in order.
	received atomic.Int64
	// complete is closed once received reaches the run's total.
	complete     chan struct{}
	completeOnce sync.Once
	// exited is closed when the goroutine has returned, err (why it did)
	// set before.
	exited chan struct{}
	err    error
}

func newReader(s *subscriber, publishers int) *reader {
	return &reader{sub: s, next: make([]uint64, publishers), complete: make(chan struct{}), exited: make(chan struct{})}
}

// run reads messages until the conn fails or a message is not the next of
// its publisher. total is the run's: 0 while publishing goes on.
func (r *reader) run(channel []byte, total *atomic.Int64) {
	defer close(r.exited)
	for {
		id, seq, err := r.sub.rd.message(channel)
		if err != nil {
			r.err = err
			return
		}
		if id >= len(r.next) {
			r.err = fmt.Errorf("%w: a message of publisher %d; there are %d", ErrProtocol, id, len(r.next))
			return
		}
		if seq != r.next[id] {
			r.err = fmt.Errorf("%w: publisher %d's message %d came after %d of its messages", ErrOutOfOrder, id, seq, r.next[id])
			return
		}
		r.next[id]++
		if n, t := r.received.Add(1), total.Load(); t > 0 && n >= t {
			r.markComplete()
		}
	}
}

func (r *reader) markComplete() { r.completeOnce.Do(func() { close(r.complete) }) }

func (r *reader) isComplete() bool {
	select {
	case <-r.complete:
		return true
	default:
		return false
	}
}
