package loop

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// fakeDispatcher records each DispatchOnce call. It returns err on call number
// failAt (1-based) and refuses to run more than maxCalls times, so a broken Iterate
// ends the test instead of spinning.
type fakeDispatcher struct {
	timeouts []time.Duration
	log      *[]string
	failAt   int
	err      error
}

const maxCalls = 10_000

var errRunaway = errors.New("fake dispatcher: too many calls")

func (f *fakeDispatcher) DispatchOnce(timeout time.Duration) error {
	f.timeouts = append(f.timeouts, timeout)
	if f.log != nil {
		*f.log = append(*f.log, "D")
	}
	if f.failAt > 0 && len(f.timeouts) == f.failAt {
		return f.err
	}
	if len(f.timeouts) >= maxCalls {
		return errRunaway
	}
	return nil
}

func (f *fakeDispatcher) calls() int { return len(f.timeouts) }

func TestIterateCountMinusOneRunsUntilHookReturnsErrStop(t *testing.T) {
	d := &fakeDispatcher{}
	afters := 0
	err := Iterate(d, &Vars{Count: -1, After: func(v *Vars) error {
		afters++
		if v.Count != -1 {
			t.Errorf("Count changed to %d; -1 must stay -1", v.Count)
		}
		if afters == 50 {
			return ErrStop
		}
		return nil
	}})
	if err != nil {
		t.Fatalf("Iterate = %v, want nil", err)
	}
	if d.calls() != 50 {
		t.Fatalf("DispatchOnce calls = %d, want 50", d.calls())
	}
}

func TestIterateCountNDispatchesExactlyNTimes(t *testing.T) {
	for _, n := range []int{1, 2, 7, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			d := &fakeDispatcher{}
			befores, afters := 0, 0
			v := &Vars{
				Count:  n,
				Before: func(*Vars) error { befores++; return nil },
				After:  func(*Vars) error { afters++; return nil },
			}
			if err := Iterate(d, v); err != nil {
				t.Fatalf("Iterate = %v", err)
			}
			if d.calls() != n || afters != n || befores != n+1 {
				t.Fatalf("dispatches %d, Before %d, After %d; want %d, %d, %d", d.calls(), befores, afters, n, n+1, n)
			}
			if v.Count != 0 {
				t.Fatalf("Count at the end = %d, want 0", v.Count)
			}
		})
	}
}

func TestIterateChecksCountAfterBeforeAndBeforeDispatchOnce(t *testing.T) {
	var log []string
	d := &fakeDispatcher{log: &log}
	v := &Vars{
		Count: 2,
		Before: func(v *Vars) error {
			log = append(log, fmt.Sprintf("B%d", v.Count))
			return nil
		},
		After: func(v *Vars) error {
			log = append(log, fmt.Sprintf("A%d", v.Count))
			return nil
		},
	}
	if err := Iterate(d, v); err != nil {
		t.Fatalf("Iterate = %v", err)
	}
	// Before sees the Count before the decrement, After the one after it.
	want := []string{"B2", "D", "A1", "B1", "D", "A0", "B0"}
	if !slices.Equal(log, want) {
		t.Fatalf("order = %v, want %v", log, want)
	}
}

func TestIterateCountZeroRunsBeforeOnceNeverDispatches(t *testing.T) {
	d := &fakeDispatcher{}
	befores, afters := 0, 0
	err := Iterate(d, &Vars{
		Count:  0,
		Before: func(*Vars) error { befores++; return nil },
		After:  func(*Vars) error { afters++; return nil },
	})
	if err != nil || befores != 1 || afters != 0 || d.calls() != 0 {
		t.Fatalf("Iterate = %v, Before %d, After %d, dispatches %d; want nil, 1, 0, 0", err, befores, afters, d.calls())
	}
}

func TestIterateBeforeSettingCountZeroPreventsTheDispatch(t *testing.T) {
	d := &fakeDispatcher{}
	err := Iterate(d, &Vars{Count: -1, Before: func(v *Vars) error { v.Count = 0; return nil }})
	if err != nil || d.calls() != 0 {
		t.Fatalf("Iterate = %v with %d dispatches; want nil with 0", err, d.calls())
	}
}

func TestIterateCountSetInBeforeIncludesThisRound(t *testing.T) {
	d := &fakeDispatcher{}
	befores := 0
	err := Iterate(d, &Vars{Count: -1, Before: func(v *Vars) error {
		befores++
		if befores == 3 { // after 2 dispatches, ask for 4 more starting now
			v.Count = 4
		}
		return nil
	}})
	if err != nil || d.calls() != 2+4 {
		t.Fatalf("Iterate = %v with %d dispatches; want nil with 6", err, d.calls())
	}
}

func TestIterateCountSetInAfterAsksForThatManyMoreRounds(t *testing.T) {
	d := &fakeDispatcher{}
	afters := 0
	err := Iterate(d, &Vars{Count: 1, After: func(v *Vars) error {
		afters++
		if afters == 1 {
			v.Count = 3
		}
		return nil
	}})
	if err != nil || d.calls() != 1+3 {
		t.Fatalf("Iterate = %v with %d dispatches; want nil with 4", err, d.calls())
	}
}

func TestIterateTimeoutSetInBeforeAppliesToSameRoundAndInAfterToNext(t *testing.T) {
	d := &fakeDispatcher{}
	befores, afters := 0, 0
	err := Iterate(d, &Vars{
		Timeout: time.Second,
		Count:   4,
		Before: func(v *Vars) error {
			befores++
			if befores == 2 {
				v.Timeout = 2 * time.Second
			}
			return nil
		},
		After: func(v *Vars) error {
			afters++
			if afters == 3 {
				v.Timeout = -1
			}
			return nil
		},
	})
	if err != nil {
		t.Fatalf("Iterate = %v", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 2 * time.Second, -1}
	if !slices.Equal(d.timeouts, want) {
		t.Fatalf("timeouts = %v, want %v", d.timeouts, want)
	}
}

func TestIterateHooksMayReplaceAndClearBeforeAndAfter(t *testing.T) {
	var log []string
	d := &fakeDispatcher{log: &log}
	hook := func(name string, then func(v *Vars)) func(v *Vars) error {
		return func(v *Vars) error {
			log = append(log, name)
			if then != nil {
				then(v)
			}
			return nil
		}
	}
	afters2 := 0
	before3 := hook("before3", nil)
	after3 := hook("after3", func(v *Vars) { v.After = nil })
	before2 := hook("before2", func(v *Vars) { v.After = after3; v.Before = before3 })
	after2 := hook("after2", func(v *Vars) {
		if afters2++; afters2 == 2 {
			v.Before = before2
		}
	})
	before1 := hook("before1", func(v *Vars) { v.After = after2; v.Before = nil })
	after1 := hook("after1", nil) // replaced before it ever runs
	v := &Vars{Count: 4, Before: before1, After: after1}
	if err := Iterate(d, v); err != nil {
		t.Fatalf("Iterate = %v", err)
	}
	want := []string{
		"before1", "D", "after2", // before1 cleared Before and set After for this round
		"D", "after2", // no Before; the second after2 installs before2
		"before2", "D", "after3", // before2 set After for this round; after3 clears After
		"before3", "D", // no After any more
		"before3", // Count is 0
	}
	if !slices.Equal(log, want) {
		t.Fatalf("calls =\n%v\nwant\n%v", log, want)
	}
}

func TestIterateErrStopFromBeforeEndsAtOnceWithoutAfter(t *testing.T) {
	for name, stop := range map[string]error{
		"ErrStop": ErrStop,
		"wrapped": fmt.Errorf("done with it: %w", ErrStop),
	} {
		t.Run(name, func(t *testing.T) {
			d := &fakeDispatcher{}
			befores, afters := 0, 0
			err := Iterate(d, &Vars{
				Count: -1,
				Before: func(*Vars) error {
					befores++
					if befores == 3 {
						return stop
					}
					return nil
				},
				After: func(*Vars) error { afters++; return nil },
			})
			if err != nil || d.calls() != 2 || afters != 2 {
				t.Fatalf("Iterate = %v, dispatches %d, After %d; want nil, 2, 2", err, d.calls(), afters)
			}
		})
	}
}

func TestIterateErrStopFromAfterEndsAtOnce(t *testing.T) {
	for name, stop := range map[string]error{
		"ErrStop": ErrStop,
		"wrapped": fmt.Errorf("done with it: %w", ErrStop),
	} {
		t.Run(name, func(t *testing.T) {
			d := &fakeDispatcher{}
			befores := 0
			err := Iterate(d, &Vars{
				Count:  10,
				Before: func(*Vars) error { befores++; return nil },
				After:  func(*Vars) error { return stop },
			})
			if err != nil || d.calls() != 1 || befores != 1 {
				t.Fatalf("Iterate = %v, dispatches %d, Before %d; want nil, 1, 1", err, d.calls(), befores)
			}
		})
	}
}

func TestIterateReturnsOtherHookErrorsAsIs(t *testing.T) {
	errBefore := errors.New("before failed")
	errAfter := fmt.Errorf("after failed: %w", errors.New("cause"))

	d := &fakeDispatcher{}
	err := Iterate(d, &Vars{Count: -1, Before: func(*Vars) error { return errBefore }})
	if err != errBefore || d.calls() != 0 {
		t.Fatalf("Before error: Iterate = %v after %d dispatches; want %v after 0", err, d.calls(), errBefore)
	}

	d = &fakeDispatcher{}
	err = Iterate(d, &Vars{Count: -1, After: func(*Vars) error { return errAfter }})
	if err != errAfter || d.calls() != 1 {
		t.Fatalf("After error: Iterate = %v after %d dispatches; want %v after 1", err, d.calls(), errAfter)
	}
}

func TestIterateReturnsDispatchOnceError(t *testing.T) {
	errDispatch := errors.New("dispatch failed")
	d := &fakeDispatcher{failAt: 3, err: errDispatch}
	afters := 0
	err := Iterate(d, &Vars{Count: -1, After: func(*Vars) error { afters++; return nil }})
	if err != errDispatch || d.calls() != 3 || afters != 2 {
		t.Fatalf("Iterate = %v, dispatches %d, After %d; want %v, 3, 2", err, d.calls(), afters, errDispatch)
	}
}

func TestIterateNilVarsDispatchesForeverWithThirtySecondTimeout(t *testing.T) {
	errEnd := errors.New("end of test")
	d := &fakeDispatcher{failAt: 1000, err: errEnd} // "forever" ends only by error
	if err := Iterate(d, nil); err != errEnd {
		t.Fatalf("Iterate(nil) = %v, want %v", err, errEnd)
	}
	if d.calls() != 1000 {
		t.Fatalf("dispatches = %d, want 1000", d.calls())
	}
	for i, to := range d.timeouts {
		if to != 30*time.Second {
			t.Fatalf("timeout of call %d = %v, want 30s", i+1, to)
		}
	}
}

func TestIterateValuesCarryStateBetweenHooks(t *testing.T) {
	d := &fakeDispatcher{}
	v := &Vars{
		Count:  3,
		Values: map[string]any{"rounds": 0},
		Before: func(v *Vars) error {
			v.Values["seen-by-before"] = v.Values["rounds"]
			return nil
		},
		After: func(v *Vars) error {
			if v.Values["seen-by-before"] != v.Values["rounds"] {
				return fmt.Errorf("After sees %v, Before saw %v", v.Values["rounds"], v.Values["seen-by-before"])
			}
			v.Values["rounds"] = v.Values["rounds"].(int) + 1
			return nil
		},
	}
	if err := Iterate(d, v); err != nil {
		t.Fatalf("Iterate = %v", err)
	}
	if v.Values["rounds"] != 3 {
		t.Fatalf("Values[rounds] = %v, want 3", v.Values["rounds"])
	}
}

func TestIterateDrivesARealLoop(t *testing.T) {
	l := newTestLoop(t, nil)
	ran := 0
	l.AfterFunc(0, func() { ran++ })
	if err := Iterate(l, &Vars{Timeout: 0, Count: 3}); err != nil {
		t.Fatalf("Iterate = %v", err)
	}
	if st := l.Stats(); st.Rounds != 3 || st.TimersFired != 1 || ran != 1 {
		t.Fatalf("Rounds %d, TimersFired %d, ran %d; want 3, 1, 1", st.Rounds, st.TimersFired, ran)
	}
}
