package loop

import (
	"math"
	"time"
)

// Timer is a handle to a function scheduled on a loop with AfterFunc or Every. The
// zero Timer is inert. Its methods are for the loop goroutine only.
type Timer struct {
	t *timer
	l *Loop
}

// timer is one heap entry. It is allocated once by AfterFunc or Every and reused by
// every Reset and every period of Every, so rescheduling allocates nothing.
type timer struct {
	when   int64         // monotonic nanoseconds since the loop's epoch
	seq    uint64        // tie-breaker: equal deadlines fire in scheduling order
	period time.Duration // > 0 for Every
	f      func()
	index  int // position in the heap, -1 when not scheduled
}

// timerHeap is a binary min-heap ordered by (when, seq).
type timerHeap []*timer

func (h timerHeap) less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h timerHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h timerHeap) down(i int) {
	for {
		left := 2*i + 1
		if left >= len(h) {
			return
		}
		least := left
		if right := left + 1; right < len(h) && h.less(right, left) {
			least = right
		}
		if !h.less(least, i) {
			return
		}
		h.swap(i, least)
		i = least
	}
}

func (h *timerHeap) push(t *timer) {
	t.index = len(*h)
	*h = append(*h, t)
	h.up(t.index)
}

func (h *timerHeap) remove(t *timer) {
	i, last := t.index, len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
	t.index = -1
}

// deadline adds d to now without overflowing: a hundred-year timer is scheduled for
// the far future, not the past. Negative d counts as zero.
func deadline(now int64, d time.Duration) int64 {
	if d <= 0 {
		return now
	}
	if int64(d) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(d)
}

// AfterFunc schedules f to run once on the loop goroutine after at least d. A d of
// zero or less runs f in the current or next round. Loop goroutine only (or before
// the loop runs).
func (l *Loop) AfterFunc(d time.Duration, f func()) Timer {
	t := &timer{f: f, index: -1}
	l.schedule(t, d)
	return Timer{t: t, l: l}
}

// Every runs f on the loop goroutine every period, the first time after one period.
// A run that falls behind is not repeated to catch up. It panics if period is not
// positive, as time.NewTicker does. Loop goroutine only (or before the loop runs).
func (l *Loop) Every(period time.Duration, f func()) Timer {
	if period <= 0 {
		panic("loop: Every needs a positive period")
	}
	t := &timer{f: f, period: period, index: -1}
	l.schedule(t, period)
	return Timer{t: t, l: l}
}

func (l *Loop) schedule(t *timer, d time.Duration) {
	l.timerSeq++
	t.seq = l.timerSeq
	t.when = deadline(l.monotonic(), d)
	l.timers.push(t)
	l.stats.timers.Store(int64(len(l.timers)))
}

// Stop cancels the timer. It reports whether the timer was pending; for an Every
// timer it stops all later runs. Loop goroutine only.
func (t Timer) Stop() bool {
	if t.t == nil || t.t.index == -1 {
		return false
	}
	if t.t.index == firing {
		t.t.index = -1
		return true
	}
	t.l.timers.remove(t.t)
	t.l.stats.timers.Store(int64(len(t.l.timers)))
	return true
}

// Reset reschedules the timer to fire after d (for Every, the next run; the period
// stays). It reports whether the timer was pending. It allocates nothing. Loop
// goroutine only.
func (t Timer) Reset(d time.Duration) bool {
	if t.t == nil {
		return false
	}
	was := t.Stop()
	t.l.schedule(t.t, d)
	return was
}

// nextTimer returns how long until the earliest timer is due, or -1 if none is.
func (l *Loop) nextTimer(now int64) time.Duration {
	if len(l.timers) == 0 {
		return -1
	}
	if d := l.timers[0].when - now; d > 0 {
		return time.Duration(d)
	}
	return 0
}

// firing marks a timer taken off the heap to run in this round.
const firing = -2

// runTimers runs every timer due at now, earliest first. The due timers are taken
// off the heap before any runs, so a timer scheduled by a running timer (even for
// "now") waits for the next round: a zero-delay timer that re-arms itself cannot
// starve the loop. A timer stopped or reset by an earlier one in the batch is
// skipped.
func (l *Loop) runTimers(now int64) int {
	due := l.dueTimers[:0]
	for len(l.timers) > 0 && l.timers[0].when <= now {
		t := l.timers[0]
		l.timers.remove(t)
		t.index = firing
		due = append(due, t)
	}
	fired := 0
	for i, t := range due {
		due[i] = nil
		if t.index != firing {
			continue
		}
		t.index = -1
		if t.period > 0 {
			next := deadline(t.when, t.period)
			if next <= now {
				next = deadline(now, t.period)
			}
			l.timerSeq++
			t.seq, t.when = l.timerSeq, next
			l.timers.push(t)
		}
		fired++
		l.runGuarded(nil, t.f)
	}
	l.dueTimers = due[:0]
	l.stats.timers.Store(int64(len(l.timers)))
	return fired
}
