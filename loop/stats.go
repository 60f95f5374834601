package loop

import (
	"time"

	"go.uber.org/atomic"
)

// Stats is a snapshot of a loop's counters. Counters only grow; Targets and Timers
// are current values.
type Stats struct {
	ID              int
	Targets         int    // registered targets
	Timers          int    // pending timers
	Rounds          uint64 // DispatchOnce calls that returned
	Events          uint64 // events delivered or dropped as stale
	Tasks           uint64 // submitted tasks run
	TimersFired     uint64
	WakeWrites      uint64        // wakeups that reached the kernel (eventfd writes on Linux)
	BytesIn         uint64        // bytes its targets read, as counted with CountIO
	BytesOut        uint64        // bytes its targets wrote, as counted with CountIO
	BusyTime        time.Duration // time spent dispatching, not waiting
	LongestDispatch time.Duration // the longest single round's dispatch
}

// loopStats is updated once per round by the loop goroutine and read by Stats from
// any goroutine.
type loopStats struct {
	targets, timers              atomic.Int64
	rounds, events, tasks, fired atomic.Uint64
	busy, longest                atomic.Int64
	bytesIn, bytesOut            atomic.Uint64

	// pendingIn and pendingOut gather CountIO's bytes during a round; the loop
	// publishes them once per round, so counting costs no atomic per read.
	pendingIn, pendingOut uint64
}

func (s *loopStats) round(events, fired, tasks int, busy time.Duration) {
	s.rounds.Inc()
	if events > 0 {
		s.events.Add(uint64(events))
	}
	if fired > 0 {
		s.fired.Add(uint64(fired))
	}
	if tasks > 0 {
		s.tasks.Add(uint64(tasks))
	}
	s.publishBytes()
	s.busy.Add(int64(busy))
	if int64(busy) > s.longest.Load() {
		s.longest.Store(int64(busy))
	}
}

// publishBytes makes the bytes CountIO gathered visible to Stats.
func (s *loopStats) publishBytes() {
	if s.pendingIn > 0 {
		s.bytesIn.Add(s.pendingIn)
		s.pendingIn = 0
	}
	if s.pendingOut > 0 {
		s.bytesOut.Add(s.pendingOut)
		s.pendingOut = 0
	}
}

// Stats returns the loop's counters. Cheap; safe from any goroutine.
func (l *Loop) Stats() Stats {
	st := Stats{
		ID:              l.cfg.ID,
		Targets:         int(l.stats.targets.Load()),
		Timers:          int(l.stats.timers.Load()),
		Rounds:          l.stats.rounds.Load(),
		Events:          l.stats.events.Load(),
		Tasks:           l.stats.tasks.Load(),
		TimersFired:     l.stats.fired.Load(),
		BusyTime:        time.Duration(l.stats.busy.Load()),
		LongestDispatch: time.Duration(l.stats.longest.Load()),
		WakeWrites:      l.p.WakeWrites(),
		BytesIn:         l.stats.bytesIn.Load(),
		BytesOut:        l.stats.bytesOut.Load(),
	}
	return st
}

// CountIO adds to the loop's byte counters (Stats.BytesIn and BytesOut). Targets
// that move bytes call it; transport counts every read and write of its conns.
// The counts are published at the end of the round. Loop goroutine only.
func (l *Loop) CountIO(in, out int) {
	l.stats.pendingIn += uint64(in)
	l.stats.pendingOut += uint64(out)
}
