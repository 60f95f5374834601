package transport

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/loop"
)

// ErrSlowConsumer: the conn's output went beyond Config.MaxQueued, or stayed
// above Config.SoftMaxQueued for Config.SoftMaxQueuedFor, so it was closed with a
// reset and its queue dropped.
var ErrSlowConsumer = errors.New("transport: slow consumer: output limit exceeded")

// limits are a conn's water marks and output limits, normalised from its Config
// and shared by every conn made with the same values, so that a conn pays one
// pointer for all of them.
type limits struct {
	highWater, lowWater int // highWater < 0: never pause
	maxQueued           int // 0: no hard limit
	softQueued          int // 0: no soft limit
	softFor             time.Duration
}

var (
	limitsShared sync.Map // limits -> *limits
	limitsKinds  atomic.Int64
)

// limitsShareMax bounds how many distinct limits are shared; a program that makes
// more gets a copy per conn instead of a table that grows without end.
const limitsShareMax = 64

// limitsOf returns the normalised limits of cfg, shared when it can be.
func limitsOf(cfg *Config) *limits {
	v := limits{maxQueued: cfg.MaxQueued, softQueued: cfg.SoftMaxQueued, softFor: cfg.SoftMaxQueuedFor}
	switch high := cfg.HighWater; {
	case high < 0:
		v.highWater = -1
	default:
		if high == 0 {
			high = DefaultHighWater
		}
		low := cfg.LowWater
		if low <= 0 || low > high {
			low = high / 2
		}
		v.highWater, v.lowWater = high, low
	}
	if p, ok := limitsShared.Load(v); ok {
		return p.(*limits)
	}
	if limitsKinds.Load() >= limitsShareMax {
		return &v
	}
	p, loaded := limitsShared.LoadOrStore(v, &v)
	if !loaded {
		limitsKinds.Inc()
	}
	return p.(*limits)
}

// Validate reports a Config whose output limits contradict each other or are
// negative. NewConn, Dial and the shard engine refuse such a Config.
func (cfg Config) Validate() error {
	switch {
	case cfg.MaxQueued < 0:
		return fmt.Errorf("transport: Config.MaxQueued %d: want 0 (no limit) or more", cfg.MaxQueued)
	case cfg.SoftMaxQueued < 0:
		return fmt.Errorf("transport: Config.SoftMaxQueued %d: want 0 (no limit) or more", cfg.SoftMaxQueued)
	case cfg.SoftMaxQueued > 0 && cfg.SoftMaxQueuedFor <= 0:
		return fmt.Errorf("transport: Config.SoftMaxQueued %d needs a positive SoftMaxQueuedFor (%v)", cfg.SoftMaxQueued, cfg.SoftMaxQueuedFor)
	case cfg.SoftMaxQueued == 0 && cfg.SoftMaxQueuedFor != 0:
		return fmt.Errorf("transport: Config.SoftMaxQueuedFor %v without SoftMaxQueued", cfg.SoftMaxQueuedFor)
	case cfg.MaxQueued > 0 && cfg.SoftMaxQueued >= cfg.MaxQueued:
		return fmt.Errorf("transport: Config.SoftMaxQueued %d is not below MaxQueued %d", cfg.SoftMaxQueued, cfg.MaxQueued)
	}
	return nil
}

// The owed word (Conn.owed) counts the bytes the conn owes its peer: queued by
// Write, Writev and AsyncWrite (from the moment AsyncWrite is called) and not yet
// taken by the kernel. Its top bits say why AsyncWrite refuses: the conn closed,
// and whether it closed as a slow consumer. The loop adds and subtracts what it
// queues and writes; any goroutine adds what it hands to AsyncWrite.
const (
	owedSlow   = 1 << 61
	owedClosed = 1 << 62
	owedBytes  = owedSlow - 1
)

// Pending returns how many bytes the conn owes its peer: written with Write,
// Writev or AsyncWrite (AsyncWrites still on their way to the loop included) and
// not yet taken by the kernel; 0 once the conn is closed. It is the figure the
// output limits (Config.MaxQueued) are checked against, so a publisher can see a
// conn fall behind without blocking. Safe from any goroutine.
func (c *Conn) Pending() int {
	v := c.owed.Load()
	if v&owedClosed != 0 {
		return 0
	}
	return int(v & owedBytes)
}

// owedErr is the error AsyncWrite reports for an owed word with refusal bits.
func owedErr(v int64) error {
	if v&owedSlow != 0 {
		return ErrSlowConsumer
	}
	return ErrClosed
}

// markOwed sets bits in the owed word, and reports whether it set owedSlow (it
// does so once in a conn's life, so exactly one goroutine asks the loop to close
// a slow consumer).
func (c *Conn) markOwed(bits int64) bool {
	for {
		old := c.owed.Load()
		if old&bits == bits {
			return false
		}
		if c.owed.CompareAndSwap(old, old|bits) {
			return bits&owedSlow != 0 && old&(owedSlow|owedClosed) == 0
		}
	}
}

// SetMaxQueued sets the conn's hard output limit (Config.MaxQueued) from now on:
// a server may give one class of its conns a limit of its own, as Redis does its
// pubsub clients. 0 removes the limit. What the conn owes is checked against n
// at once, or, inside one of the conn's callbacks, when it returns; a conn
// closed by that check makes SetMaxQueued return ErrSlowConsumer. Loop
// goroutine only.
func (c *Conn) SetMaxQueued(n int) error {
	c.checkOwner("transport.Conn.SetMaxQueued")
	if c.state == Closed {
		return owedErr(c.owed.Load())
	}
	v := *c.lim.Load()
	v.maxQueued = n
	cfg := Config{HighWater: v.highWater, LowWater: v.lowWater, MaxQueued: n, SoftMaxQueued: v.softQueued, SoftMaxQueuedFor: v.softFor}
	if err := cfg.Validate(); err != nil {
		return err
	}
	c.lim.Store(limitsOf(&cfg))
	if !c.reg.InCallback() {
		c.settle()
		if c.state == Closed {
			return owedErr(c.owed.Load())
		}
	}
	return nil
}

// MaxQueued returns the conn's hard output limit: Config.MaxQueued, or what
// SetMaxQueued set last. Loop goroutine only.
func (c *Conn) MaxQueued() int {
	c.checkOwner("transport.Conn.MaxQueued")
	return c.lim.Load().maxQueued
}

// softLimit is a conn's soft-limit clock, kept in connExtra once it is needed.
type softLimit struct {
	since time.Time // when the output went above SoftMaxQueued; zero while below
	timer loop.Timer
}

// checkLimits closes the conn as a slow consumer when it owes more than its hard
// limit, or has owed more than its soft limit for its grace; it reports whether
// it closed it. Loop goroutine only.
func (c *Conn) checkLimits() bool {
	lim := c.lim.Load()
	owed := int(c.owed.Load() & owedBytes)
	if lim.maxQueued > 0 && owed > lim.maxQueued {
		c.slowConsumer()
		return true
	}
	if lim.softQueued == 0 {
		return false
	}
	x := c.extra
	if owed <= lim.softQueued {
		if x != nil && x.soft != nil {
			x.soft.since = time.Time{}
		}
		return false
	}
	if x == nil || x.soft == nil {
		c.more().soft = &softLimit{}
		x = c.extra
	}
	s, now := x.soft, c.l.Now()
	switch {
	case s.since.IsZero():
		s.since = now
		if s.timer == (loop.Timer{}) {
			s.timer = c.l.AfterFunc(lim.softFor, c.softTimeout)
		} else {
			s.timer.Reset(lim.softFor)
		}
	case now.Sub(s.since) >= lim.softFor:
		c.slowConsumer()
		return true
	}
	return false
}

// softTimeout runs when a soft limit's grace may have run out.
func (c *Conn) softTimeout() {
	if c.state == Closed {
		return
	}
	s := c.extra.soft
	if s.since.IsZero() {
		return // below the soft limit again
	}
	if left := c.lim.Load().softFor - time.Since(s.since); left > 0 {
		s.timer.Reset(left)
		return
	}
	c.slowConsumer()
}

// slowConsumer closes the conn at once, with a reset, because its peer does not
// take its output: the queue is dropped, and OnClose and every waiting AsyncWrite
// callback get ErrSlowConsumer. Loop goroutine only.
func (c *Conn) slowConsumer() {
	if c.state == Closed {
		return
	}
	c.markOwed(owedSlow)
	c.stream().reset(c)
	c.finish(ErrSlowConsumer)
}
