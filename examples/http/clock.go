package main

import (
	"time"

	"github.com/sycamore-go/sycamore/loop"
)

// datePrefix starts the Date header line.
const datePrefix = "Date: "

// dateLineLen is the length of a Date header line: an IMF-fixdate is always 29
// bytes (a four-digit year, two-digit fields, "GMT").
const dateLineLen = len(datePrefix) + len(httpTimeFormat) + len("\r\n")

// dateClock is one loop's Date header line, "Date: <IMF-fixdate>\r\n". A timer on
// that loop rewrites it in place once a second, so handlers on the loop read it
// with no lock and no formatting. The HTTP date has a resolution of one second;
// the line lags the true time by less than a second plus the loop's delay in
// running the timer.
type dateClock struct {
	line   []byte
	ticker loop.Timer // the Every timer; loop goroutine only
}

// newDateClock returns a clock showing now. Its timer is not running yet: see
// start.
func newDateClock(now time.Time) *dateClock {
	clock := &dateClock{line: make([]byte, 0, dateLineLen)}
	clock.set(now)
	return clock
}

// set rewrites the line for now, in place: the buffer always has room, so it
// allocates nothing.
func (clock *dateClock) set(now time.Time) {
	line := append(clock.line[:0], datePrefix...)
	line = now.UTC().AppendFormat(line, httpTimeFormat)
	clock.line = append(line, "\r\n"...)
}

// tick is the timer's function: show the current time.
func (clock *dateClock) tick() { clock.set(time.Now()) }

// start schedules tick every second on l. It goes through Submit, because Every
// is for the loop goroutine only, so it is safe whether or not l runs yet. Safe
// from any goroutine; on a loop that has stopped it does nothing.
func (clock *dateClock) start(l *loop.Loop) {
	l.Submit(func() { clock.ticker = l.Every(time.Second, clock.tick) })
}

// stop cancels the timer that start scheduled. Safe from any goroutine; on a loop
// that has stopped it does nothing (loop.Close drops pending timers anyway).
func (clock *dateClock) stop(l *loop.Loop) {
	l.Submit(func() { clock.ticker.Stop() })
}
