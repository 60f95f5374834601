package shard

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// When the engine lifts an overload pause, the input left buffered is offered to
// OnData again at the end of a round. A panic there is a panic in a callback of
// the conn like any other: the conn closes with it.
func TestPanicInOnDataOfferedWhenTheOverloadPauseLiftsClosesTheConn(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, Workers: 4, MaxInFlight: 1})
	release := make(chan struct{})
	closed := make(chan error, 1)
	var calls int // loop goroutine only
	h := &handlerFunc{
		data: func(c *transport.Conn) {
			calls++
			if calls > 1 {
				panic("OnData after the pause")
			}
			// The second Offload is over MaxInFlight: the conn pauses with the
			// request left unread.
			e.Offload(c, func() any { <-release; return nil }, func(*transport.Conn, any) {})
			if err := e.Offload(c, func() any { return nil }, func(*transport.Conn, any) {}); !errors.Is(err, ErrOverloaded) {
				t.Errorf("second Offload: %v, want ErrOverloaded", err)
			}
		},
		close: func(_ *transport.Conn, err error) { closed <- err },
	}
	c := dial(t, "tcp", serve(t, e, h))
	if _, err := c.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}
	close(release)
	err := testutil.Recv(t, closed, 5*time.Second, "OnClose of the conn whose OnData panicked")
	var pe *loop.PanicError
	if !errors.As(err, &pe) || pe.Value != "OnData after the pause" {
		t.Fatalf("OnClose got %v, want the panic", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("client read %d bytes, err %v: want the conn closed", n, err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.Open == 0 }, "the conn counted closed")
}

// Two engines whose loops dial each other at the same moment must not wait for
// each other: Dial hands the conn to the other loop and returns. (Each loop used
// to wait inside Dial for the other, for good, and Close then hung too.)
func TestEnginesDiallingEachOtherFromTheirLoopsDoNotDeadlock(t *testing.T) {
	a, addrA := startEcho(t, Options{Loops: 1})
	b, addrB := startEcho(t, Options{Loops: 1})
	echoed := make(chan string, 2)
	client := func(name string) transport.Handler {
		return &handlerFunc{
			open: func(c *transport.Conn) { c.Write([]byte(name)) },
			data: func(c *transport.Conn) {
				if c.Buffered() >= len(name) {
					got, _ := c.Next(-1)
					echoed <- string(got)
					c.Close()
				}
			},
		}
	}
	var bothInside sync.WaitGroup // both loops are inside their task before either dials
	bothInside.Add(2)
	dialled := make(chan error, 2)
	dialFrom := func(from *Engine, to *Engine, addr, name string) {
		from.Loops()[0].Submit(func() {
			bothInside.Done()
			bothInside.Wait()
			_, err := to.Dial("tcp", addr, client(name))
			dialled <- err
		})
	}
	dialFrom(a, b, addrB, "from a")
	dialFrom(b, a, addrA, "from b")
	for range 2 {
		if err := testutil.Recv(t, dialled, 5*time.Second, "Dial to return on a loop of the other engine"); err != nil {
			t.Fatalf("Dial: %v", err)
		}
	}
	got := map[string]bool{}
	for range 2 {
		got[testutil.Recv(t, echoed, 5*time.Second, "the echo on a dialled conn")] = true
	}
	if !got["from a"] || !got["from b"] {
		t.Fatalf("echoes %v, want one on each dialled conn", got)
	}
	for _, e := range []*Engine{a, b} {
		closed := make(chan error, 1)
		go func() { closed <- e.Close() }()
		testutil.Recv(t, closed, 5*time.Second, "Engine.Close")
	}
}
