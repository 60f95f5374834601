package loop

import (
	"errors"
	"time"
)

// Dispatcher runs one round of an event loop: wait up to timeout for events and
// dispatch them. *Loop is one; Iterate drives any.
type Dispatcher interface {
	DispatchOnce(timeout time.Duration) error
}

// ErrStop, returned by a Before or After hook, ends Iterate at once; Iterate then
// returns nil. It is the seed's StopIteration.
var ErrStop = errors.New("loop: stop iteration")

// Vars are the loop control values Iterate passes to its hooks, the seed's
// dispatchvars. Iterate reads each field at the moment it needs it, so a hook may
// change Count, Timeout, Before and After (or clear a hook) and Iterate honours the
// change from then on: a Timeout or After set in Before applies to the same round,
// anything set in After applies to the next one.
type Vars struct {
	// Timeout is passed to DispatchOnce. Negative blocks until an event.
	Timeout time.Duration
	// Count is the number of dispatches left. Negative means forever (the seed's -1).
	// Iterate decrements it before each DispatchOnce, so a hook that sets Count = N
	// asks for N more dispatches.
	Count int
	// Before runs before each round, After after each DispatchOnce. Either may be
	// nil. Returning ErrStop ends Iterate with a nil error; any other error ends it
	// with that error.
	Before, After func(v *Vars) error
	// Values carries the caller's own state between hooks.
	Values map[string]any
}

// Iterate calls d.DispatchOnce repeatedly, with v's hooks around each call. The
// order of one round is exactly the seed's:
//
//  1. Before, if set;
//  2. if Count is 0, return nil (so Count 0 runs Before once and never dispatches);
//  3. if Count is positive, decrement it;
//  4. DispatchOnce(Timeout): an error ends Iterate with that error;
//  5. After, if set.
//
// A nil v means Vars{Timeout: 30 * time.Second, Count: -1}, the seed's defaults.
// The goroutine that calls Iterate drives d: for a Loop it becomes the loop
// goroutine.
func Iterate(d Dispatcher, v *Vars) error {
	if v == nil {
		v = &Vars{Timeout: 30 * time.Second, Count: -1}
	}
	for {
		if err := runHook(v.Before, v); err != nil {
			return stopIsNil(err)
		}
		if v.Count == 0 {
			return nil
		}
		if v.Count > 0 {
			v.Count--
		}
		if err := d.DispatchOnce(v.Timeout); err != nil {
			return err
		}
		if err := runHook(v.After, v); err != nil {
			return stopIsNil(err)
		}
	}
}

func runHook(hook func(*Vars) error, v *Vars) error {
	if hook == nil {
		return nil
	}
	return hook(v)
}

func stopIsNil(err error) error {
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}
