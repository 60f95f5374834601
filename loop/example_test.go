package loop_test

import (
	"fmt"
	"time"

	"github.com/sycamore-go/sycamore/loop"
)

// printingDispatcher stands in for a *loop.Loop: each round just prints.
type printingDispatcher struct{ rounds int }

func (d *printingDispatcher) DispatchOnce(timeout time.Duration) error {
	d.rounds++
	fmt.Printf("  dispatch %d, timeout %v\n", d.rounds, timeout)
	return nil
}

// Iterate runs Before, checks Count, dispatches, then runs After. Here Count asks
// for three rounds, Before shortens the timeout of the last one, and After keeps a
// tally in Values.
func ExampleIterate() {
	v := &loop.Vars{
		Timeout: 50 * time.Millisecond,
		Count:   3,
		Values:  map[string]any{"done": 0},
		Before: func(v *loop.Vars) error {
			fmt.Printf("before: %d rounds left\n", v.Count)
			if v.Count == 1 {
				v.Timeout = 0 // applies to this round
			}
			return nil
		},
		After: func(v *loop.Vars) error {
			v.Values["done"] = v.Values["done"].(int) + 1
			return nil
		},
	}
	err := loop.Iterate(&printingDispatcher{}, v)
	fmt.Println("rounds done:", v.Values["done"], "err:", err)
	// Output:
	// before: 3 rounds left
	//   dispatch 1, timeout 50ms
	// before: 2 rounds left
	//   dispatch 2, timeout 50ms
	// before: 1 rounds left
	//   dispatch 3, timeout 0s
	// before: 0 rounds left
	// rounds done: 3 err: <nil>
}

// A hook ends Iterate early by returning loop.ErrStop; Iterate then returns nil.
// Here a real loop runs until the timer it scheduled has fired.
func ExampleIterate_errStop() {
	l, err := loop.New(loop.Config{CPU: loop.NoPin})
	if err != nil {
		panic(err)
	}
	defer l.Close()

	fired := false
	l.AfterFunc(time.Millisecond, func() { fired = true })
	err = loop.Iterate(l, &loop.Vars{
		Timeout: time.Second, // a round wakes early for the timer
		Count:   -1,
		After: func(*loop.Vars) error {
			if fired {
				return loop.ErrStop
			}
			return nil
		},
	})
	fmt.Println("fired:", fired, "err:", err)
	// Output:
	// fired: true err: <nil>
}
