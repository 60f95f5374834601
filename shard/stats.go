package shard

import (
	"time"

	"github.com/sycamore-go/sycamore/loop"
)

// LoopStats are one loop's counters (or their sum, in Stats.Total). Counters
// only grow; Open and OffloadsInFlight are current values.
type LoopStats struct {
	ID               int // the loop's ID; -1 in Total
	Open             int // conns open now
	Accepted         uint64
	Closed           uint64
	Refused          uint64 // conns closed at once: MaxConns reached, or the loop stopping
	BytesIn          uint64
	BytesOut         uint64
	Events           uint64        // poller events dispatched
	Wakeups          uint64        // wakeups that reached the kernel (Submit from other goroutines)
	Tasks            uint64        // submitted tasks run (hand-offs and offload completions among them)
	OffloadsInFlight int           // Offloads whose done has not run yet
	LongestDispatch  time.Duration // the longest single round's dispatch
	// The datagram sockets of ListenPacket: datagrams and their bytes in and
	// out, datagrams not sent (refused by the kernel or a full queue), and
	// datagrams larger than PacketConfig.MaxPacket, delivered cut.
	PacketsIn, PacketsOut, PacketBytesIn, PacketBytesOut, PacketsDropped, PacketsTruncated uint64
}

// Stats is a snapshot of the engine's counters: one entry per loop, the
// acceptor loop's (zero without one), and the total of all of them.
type Stats struct {
	Loops    []LoopStats
	Acceptor LoopStats
	Total    LoopStats
}

// Stats returns the engine's counters. It reads atomics only, so it is cheap
// enough to poll. Safe from any goroutine.
func (e *Engine) Stats() Stats {
	st := Stats{Loops: make([]LoopStats, len(e.nodes)), Total: LoopStats{ID: -1}}
	for i, n := range e.nodes {
		ls := fromLoop(n.l.Stats())
		ls.Open = int(n.count.open.Load())
		ls.Accepted = n.count.accepted.Load()
		ls.Closed = n.count.closed.Load()
		ls.Refused = n.count.refused.Load()
		ls.OffloadsInFlight = int(n.inFlight.Load())
		n.packetStats(&ls)
		st.Loops[i] = ls
		st.Total.add(ls)
	}
	acceptor := e.acceptor.Load()
	if acceptor != nil {
		st.Acceptor = fromLoop(acceptor.Stats())
	}
	st.Acceptor.Refused = e.refused.Load()
	st.Total.add(st.Acceptor)
	return st
}

func fromLoop(s loop.Stats) LoopStats {
	return LoopStats{
		ID:              s.ID,
		BytesIn:         s.BytesIn,
		BytesOut:        s.BytesOut,
		Events:          s.Events,
		Wakeups:         s.WakeWrites,
		Tasks:           s.Tasks,
		LongestDispatch: s.LongestDispatch,
	}
}

func (t *LoopStats) add(s LoopStats) {
	t.Open += s.Open
	t.Accepted += s.Accepted
	t.Closed += s.Closed
	t.Refused += s.Refused
	t.BytesIn += s.BytesIn
	t.BytesOut += s.BytesOut
	t.Events += s.Events
	t.Wakeups += s.Wakeups
	t.Tasks += s.Tasks
	t.OffloadsInFlight += s.OffloadsInFlight
	t.PacketsIn += s.PacketsIn
	t.PacketsOut += s.PacketsOut
	t.PacketBytesIn += s.PacketBytesIn
	t.PacketBytesOut += s.PacketBytesOut
	t.PacketsDropped += s.PacketsDropped
	t.PacketsTruncated += s.PacketsTruncated
	t.LongestDispatch = max(t.LongestDispatch, s.LongestDispatch)
}
