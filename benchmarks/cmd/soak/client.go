package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A client owns a share of the soak's conns. It runs one goroutine per conn
// slot: Go's netpoller already multiplexes every blocked Read on one epoll
// instance, a parked goroutine costs a few KiB of stack (9,500 of them, tens
// of MiB, which the stats report), and a straight-line write, read, verify
// makes "a conn closes only after its in-flight echo is verified" a property
// of the code's shape rather than of bookkeeping. Buffers come from a pool and
// are held only for the length of a round trip, so an idle conn holds none.
// A slot cycles through conns: when churn closes its conn, the same goroutine
// dials the replacement once the server has closed the old one (see hangUp),
// so a slot never holds two conns at once, on either side.

// clientConfig is what the parent hands each client process.
type clientConfig struct {
	Index    int       `json:"index"` // 0-based; conn ids are Index<<40 | n
	Conns    int       `json:"conns"`
	Addr     string    `json:"addr"`
	Rate     float64   `json:"rate"`     // messages per conn per second
	Churn    float64   `json:"churn"`    // fraction of Conns replaced per second, once churn starts
	Deadline time.Time `json:"deadline"` // the client process exits by then, whatever happens
}

// Client bounds.
const (
	// dialTimeout and roundTripTimeout bound each dial and each round trip.
	// On loopback both take microseconds; 10 s only catches a stuck server,
	// and leaves room for a SYN retransmit (1 s) on a loaded machine.
	dialTimeout      = 10 * time.Second
	roundTripTimeout = 10 * time.Second
	// closeTimeout bounds the wait for the server's FIN after ours.
	closeTimeout = 10 * time.Second
	// dialRetry is the pause after a failed dial before the slot tries again.
	dialRetry = 100 * time.Millisecond
	// dialConcurrency caps dials in flight per client, so that the ramp to
	// full count does not overflow the server's listen backlog (SOMAXCONN,
	// 4096 on current Linux, which sycamore asks for) with thousands of
	// simultaneous SYNs: a dropped SYN costs a 1 s retransmit. Two clients'
	// 512 stay well inside it, and at a few ms per loopback dial they allow
	// far more than the 1,900 dials per second that churn needs.
	dialConcurrency = 256
	// churnTick spreads each second's churn over 100 steps instead of one
	// burst.
	churnTick = 10 * time.Millisecond
	// maxNotes is how many error descriptions a client keeps for the report.
	maxNotes = 10
)

// bufPool holds round-trip buffers big enough for the largest batch.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, maxBatch*maxMsgLen); return &b }}

// client drives cfg.Conns conns against cfg.Addr.
type client struct {
	cfg     clientConfig
	n       counters
	slots   []slot
	stop    chan struct{} // closed by shutdown
	dialSem chan struct{}
	nextID  atomic.Uint64
	slotsWG sync.WaitGroup
	churnWG sync.WaitGroup

	notesMu sync.Mutex
	notes   []string
}

// slot is one conn position; churn asks it to replace its conn.
type slot struct {
	open  atomic.Bool
	churn chan struct{} // capacity 1: a pending replacement request
}

// counters are the client's running totals.
type counters struct {
	open, opened, churned                   atomic.Int64
	dialing, closing                        atomic.Int64 // slots dialling (or queued to), slots awaiting the server's FIN
	msgsSent, msgsVerified                  atomic.Int64
	bytesSent, bytesVerified                atomic.Int64
	mismatches, unexpectedCloses, timeouts  atomic.Int64
	ioErrors, connectErrors, churnRequested atomic.Int64
	closeTimeouts                           atomic.Int64
	closeWaits, closeWaitNs, closeWaitMaxNs atomic.Int64 // our FIN to the server's
	maxGoroutines                           atomic.Int64 // the most seen by snapshot
}

func newClient(cfg clientConfig) *client {
	cl := &client{cfg: cfg, slots: make([]slot, cfg.Conns), stop: make(chan struct{}), dialSem: make(chan struct{}, dialConcurrency)}
	for i := range cl.slots {
		cl.slots[i].churn = make(chan struct{}, 1)
	}
	return cl
}

// start launches every slot; each dials its first conn and starts talking.
func (cl *client) start() {
	cl.slotsWG.Add(len(cl.slots))
	for i := range cl.slots {
		go cl.runSlot(&cl.slots[i])
	}
}

// startChurn replaces cfg.Churn × cfg.Conns random open conns per second,
// spread over 10 ms ticks, until shutdown.
func (cl *client) startChurn() {
	cl.churnWG.Add(1)
	go func() {
		defer cl.churnWG.Done()
		perSec := cl.cfg.Churn * float64(cl.cfg.Conns)
		tick := time.NewTicker(churnTick)
		defer tick.Stop()
		owed, last := 0.0, time.Now()
		for {
			select {
			case <-cl.stop:
				return
			case <-tick.C:
				now := time.Now()
				// Owed by the clock, not by ticks: a starved process misses
				// ticks. What found no open conn, or came due during a stall,
				// carries over, but never more than a second's worth: churn
				// does not burst to make up for a long stall.
				owed = min(owed+perSec*now.Sub(last).Seconds(), perSec)
				last = now
			}
			for ; owed >= 1; owed-- {
				if !cl.requestChurn() {
					break
				}
			}
		}
	}()
}

// requestChurn asks one random open conn to close and be replaced. It tries a
// few slots and reports whether one took the request.
func (cl *client) requestChurn() bool {
	for try := 0; try < 8; try++ {
		s := &cl.slots[rand.IntN(len(cl.slots))]
		if !s.open.Load() {
			continue
		}
		select {
		case s.churn <- struct{}{}:
			cl.n.churnRequested.Add(1)
			return true
		default: // already asked
		}
	}
	return false
}

// shutdown stops churn, asks every conn to finish its round trip and close,
// and waits up to d for them. It returns how many slots had not finished.
func (cl *client) shutdown(d time.Duration) int {
	close(cl.stop)
	cl.churnWG.Wait()
	done := make(chan struct{})
	go func() { cl.slotsWG.Wait(); close(done) }()
	select {
	case <-done:
		return 0
	case <-time.After(d):
		return int(cl.n.open.Load() + cl.n.closing.Load() + cl.n.dialing.Load())
	}
}

type ending int

const (
	endStop ending = iota
	endChurn
	endFailed
)

func (cl *client) runSlot(s *slot) {
	defer cl.slotsWG.Done()
	for {
		c, id, ok := cl.dial()
		if !ok {
			return
		}
		select { // a request meant for the slot's previous conn
		case <-s.churn:
		default:
		}
		s.open.Store(true)
		cl.n.open.Add(1)
		end := cl.converse(s, c, id)
		s.open.Store(false)
		cl.n.open.Add(-1)
		if end != endFailed && cl.hangUp(c, id) && end == endChurn {
			cl.n.churned.Add(1)
		}
		c.Close()
		if end == endStop {
			return
		}
	}
}

// dial opens a conn, retrying after failures (each one counted) until it
// succeeds or the client stops.
func (cl *client) dial() (net.Conn, uint64, bool) {
	cl.n.dialing.Add(1)
	defer cl.n.dialing.Add(-1)
	for {
		select {
		case <-cl.stop:
			return nil, 0, false
		case cl.dialSem <- struct{}{}:
		}
		c, err := net.DialTimeout("tcp", cl.cfg.Addr, dialTimeout)
		<-cl.dialSem
		if err == nil {
			cl.n.opened.Add(1)
			return c, uint64(cl.cfg.Index)<<40 | cl.nextID.Add(1), true
		}
		cl.n.connectErrors.Add(1)
		cl.note("dial: %v", err)
		select {
		case <-cl.stop:
			return nil, 0, false
		case <-time.After(dialRetry):
		}
	}
}

// converse sends batches on c at cfg.Rate messages per second on average
// until the client stops, churn asks for the conn, or a round trip fails.
// Stop and churn are looked at only between round trips, so every echo has
// been verified when it returns.
func (cl *client) converse(s *slot, c net.Conn, id uint64) ending {
	mean := 1 / cl.cfg.Rate
	// The first send comes at a uniformly random point of one mean interval,
	// so that conns opened together do not send together.
	timer := time.NewTimer(time.Duration(rand.Float64() * mean * float64(time.Second)))
	defer timer.Stop()
	var seq uint64
	for {
		select {
		case <-cl.stop:
			return endStop
		case <-s.churn:
			return endChurn
		case <-timer.C:
		}
		k := batchLen(id, seq)
		if !cl.roundTrip(c, id, seq, k) {
			return endFailed
		}
		seq += uint64(k)
		// Interval ~ U(0.5, 1.5) × k/rate: k messages at the mean rate.
		timer.Reset(time.Duration((0.5 + rand.Float64()) * float64(k) * mean * float64(time.Second)))
	}
}

// roundTrip writes messages seq … seq+k-1 of conn id in one write, reads the
// echo and compares it byte for byte. Failures are counted and noted.
func (cl *client) roundTrip(c net.Conn, id, seq uint64, k int) bool {
	wp, rp := bufPool.Get().(*[]byte), bufPool.Get().(*[]byte)
	defer bufPool.Put(wp)
	defer bufPool.Put(rp)
	out := appendBatch((*wp)[:0], id, seq, k)
	c.SetDeadline(time.Now().Add(roundTripTimeout))
	n, err := c.Write(out)
	cl.n.bytesSent.Add(int64(n))
	if err != nil {
		cl.ioFailure(err, "write", id, seq)
		return false
	}
	cl.n.msgsSent.Add(int64(k))
	in := (*rp)[:len(out)]
	got, err := io.ReadFull(c, in)
	if i := firstDiff(in[:got], out); i >= 0 {
		cl.n.bytesVerified.Add(int64(i))
		cl.n.mismatches.Add(1)
		m, off := locate(id, seq, k, i)
		cl.note("mismatch: conn %#x message %d byte %d: got %#02x, want %#02x", id, m, off, in[i], out[i])
		return false
	}
	cl.n.bytesVerified.Add(int64(got))
	if err != nil {
		cl.ioFailure(err, fmt.Sprintf("read (%d of %d bytes back)", got, len(out)), id, seq)
		return false
	}
	cl.n.msgsVerified.Add(int64(k))
	return true
}

// ioFailure counts a failed read or write by kind.
func (cl *client) ioFailure(err error, op string, id, seq uint64) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		cl.n.timeouts.Add(1)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		cl.n.unexpectedCloses.Add(1)
	default:
		cl.n.ioErrors.Add(1)
	}
	cl.note("%s: conn %#x batch at message %d: %v", op, id, seq, err)
}

// note keeps the first maxNotes error descriptions.
func (cl *client) note(format string, args ...any) {
	cl.notesMu.Lock()
	defer cl.notesMu.Unlock()
	if len(cl.notes) < maxNotes {
		cl.notes = append(cl.notes, fmt.Sprintf("client %d: ", cl.cfg.Index)+fmt.Sprintf(format, args...))
	}
}
