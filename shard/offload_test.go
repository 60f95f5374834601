package shard

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
	"github.com/sycamore-go/sycamore/transport"
)

// lineOffloader answers each line "<delay ms> <tag>" with "<tag>\n" after the
// work sleeps that long on the pool, so works finish in another order than they
// were called.
type lineOffloader struct {
	transport.BaseHandler
	e *Engine
}

func (h *lineOffloader) OnData(c *transport.Conn) {
	for {
		buf, _ := c.Peek(-1)
		i := strings.IndexByte(string(buf), '\n')
		if i < 0 {
			return
		}
		var ms int
		var tag string
		fmt.Sscanf(string(buf[:i]), "%d %s", &ms, &tag)
		err := h.e.Offload(c, func() any {
			time.Sleep(time.Duration(ms) * time.Millisecond)
			return tag
		}, func(c *transport.Conn, result any) {
			c.Write([]byte(result.(string) + "\n"))
		})
		if errors.Is(err, ErrOverloaded) {
			return // the line stays unread: the engine redelivers it
		}
		c.Discard(i + 1)
	}
}

func TestOffloadDeliversOutOfOrderCompletionsInCallOrder(t *testing.T) {
	e := newEngine(t, Options{Loops: 2, Workers: 8})
	addr := serve(t, e, &lineOffloader{e: e})
	c := dial(t, "tcp", addr)
	// The first work sleeps longest, the last not at all.
	var req, want strings.Builder
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&req, "%d r%d\n", (8-i)*15, i)
		fmt.Fprintf(&want, "r%d\n", i)
	}
	c.Write([]byte(req.String()))
	got := make([]byte, want.Len())
	if _, err := readFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Fatalf("replies %q, want %q", got, want.String())
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.OffloadsInFlight == 0 }, "offloads still in flight")
}

func TestOffloadOverloadPausesReadsAndLosesNothing(t *testing.T) {
	// One worker and one offload per conn: most lines meet ErrOverloaded, so the
	// engine pauses and resumes the conns again and again.
	e := newEngine(t, Options{Loops: 2, Workers: 1, MaxInFlight: 1})
	addr := serve(t, e, &lineOffloader{e: e})
	const conns, lines = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for k := 0; k < conns; k++ {
		c := dial(t, "tcp", addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var req, want strings.Builder
			for i := 0; i < lines; i++ {
				fmt.Fprintf(&req, "%d c%dl%d\n", i%2, k, i)
				fmt.Fprintf(&want, "c%dl%d\n", k, i)
			}
			c.Write([]byte(req.String()))
			got := make([]byte, want.Len())
			if _, err := readFull(c, got); err != nil {
				errs <- fmt.Errorf("conn %d: %v after %q", k, err, got)
				return
			}
			if string(got) != want.String() {
				errs <- fmt.Errorf("conn %d: got %q, want %q", k, got, want.String())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestOffloadOverloadReturnsErrOverloadedAndPausesReads(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, Workers: 4, MaxInFlight: 1})
	release := make(chan struct{})
	var released atomic.Bool
	results := make(chan error, 4)
	var dataCalls int
	h := &handlerFunc{data: func(c *transport.Conn) {
		dataCalls++
		c.Discard(-1)
		if dataCalls > 1 {
			if !released.Load() {
				results <- fmt.Errorf("OnData ran while the conn was paused")
			}
			return
		}
		first := e.Offload(c, func() any { <-release; return nil }, func(c *transport.Conn, _ any) {})
		second := e.Offload(c, func() any { return nil }, func(*transport.Conn, any) {})
		results <- first
		results <- second
	}}
	addr := serve(t, e, h)
	c := dial(t, "tcp", addr)
	c.Write([]byte("go"))
	if err := testutil.Recv(t, results, 5*time.Second, "first Offload"); err != nil {
		t.Fatalf("first Offload: %v", err)
	}
	if err := testutil.Recv(t, results, 5*time.Second, "second Offload"); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("second Offload over MaxInFlight: %v, want ErrOverloaded", err)
	}
	// Paused: bytes sent now are not read until the first work completes.
	c.Write([]byte("more"))
	paused := make(chan poller.Interest, 1)
	e.Loops()[0].Submit(func() { paused <- interestOf(e, 0) })
	if in := testutil.Recv(t, paused, 5*time.Second, "interest"); in != 0 {
		t.Fatalf("the overloaded conn still reads (interest %v)", in)
	}
	released.Store(true)
	close(release)
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.BytesIn == 6 }, "reads never resumed: %+v", e.Stats().Total)
	select {
	case err := <-results:
		if err != nil && !errors.Is(err, ErrOverloaded) {
			t.Fatal(err)
		}
	default:
	}
}

// interestOf returns the loop interest of the one conn on loop i. Loop goroutine.
func interestOf(e *Engine, i int) poller.Interest {
	l := e.Loops()[i]
	for t := range l.Targets() {
		if _, ok := conns.Of(t); ok {
			return l.Interest(t)
		}
	}
	return 0
}

func TestOffloadDoneRunsForAConnClosedMeanwhile(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, Workers: 2})
	release := make(chan struct{})
	states := make(chan transport.State, 1)
	closedFirst := make(chan struct{})
	h := &handlerFunc{
		data: func(c *transport.Conn) {
			c.Discard(-1)
			err := e.Offload(c, func() any { <-release; return "late" }, func(c *transport.Conn, r any) {
				states <- c.State()
			})
			if err != nil {
				t.Errorf("Offload: %v", err)
			}
		},
		close: func(*transport.Conn, error) { close(closedFirst) },
	}
	addr := serve(t, e, h)
	c := dial(t, "tcp", addr)
	c.Write([]byte("x"))
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.OffloadsInFlight == 1 }, "no offload in flight")
	c.Close()
	testutil.Recv(t, closedFirst, 5*time.Second, "OnClose")
	close(release)
	if st := testutil.Recv(t, states, 5*time.Second, "done of a closed conn"); st != transport.Closed {
		t.Fatalf("done saw state %v, want closed", st)
	}
}

func TestOffloadPanicReachesDoneAsPanicError(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, Workers: 1})
	results := make(chan any, 1)
	h := &handlerFunc{data: func(c *transport.Conn) {
		c.Discard(-1)
		e.Offload(c, func() any { panic("boom") }, func(_ *transport.Conn, r any) { results <- r })
	}}
	addr := serve(t, e, h)
	dial(t, "tcp", addr).Write([]byte("x"))
	r := testutil.Recv(t, results, 5*time.Second, "done after a panic")
	var pe *loop.PanicError
	if err, ok := r.(error); !ok || !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("done got %#v, want a *loop.PanicError of boom", r)
	}
}

func TestOffloadRejectsMisuse(t *testing.T) {
	noPool := newEngine(t, Options{Loops: 1})
	other := newEngine(t, Options{Loops: 1, Workers: 1})
	e := newEngine(t, Options{Loops: 1, Workers: 1})
	errs := make(chan []error, 1)
	h := &handlerFunc{open: func(c *transport.Conn) {
		nop := func() any { return nil }
		done := func(*transport.Conn, any) {}
		errs <- []error{
			noPool.Offload(c, nop, done),
			other.Offload(c, nop, done),
			e.Offload(c, nil, done),
			e.Offload(c, nop, nil),
		}
	}}
	addr := serve(t, e, h)
	dial(t, "tcp", addr)
	got := testutil.Recv(t, errs, 5*time.Second, "Offload errors")
	if !errors.Is(got[0], ErrNoWorkers) || !errors.Is(got[1], ErrForeignConn) || got[2] == nil || got[3] == nil {
		t.Fatalf("Offload misuse errors: %v", got)
	}
}
