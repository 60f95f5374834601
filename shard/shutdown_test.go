package shard

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

func TestShutdownDeliversTheReplyOfAnInFlightOffload(t *testing.T) {
	e := newEngine(t, Options{Loops: 2, Workers: 2})
	release := make(chan struct{})
	h := &handlerFunc{data: func(c *transport.Conn) {
		c.Discard(-1)
		e.Offload(c, func() any { <-release; return "computed\n" }, func(c *transport.Conn, r any) {
			c.Write([]byte(r.(string)))
		})
	}}
	listened, err := e.Listen("tcp", "127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	addr := listened.String()
	runDone := make(chan error, 1)
	go func() { runDone <- e.Run(context.Background()) }()
	testutil.Eventually(t, 5*time.Second, func() bool { return e.getState() == running }, "engine never ran")
	c := dial(t, "tcp", addr)
	c.Write([]byte("work"))
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.OffloadsInFlight == 1 }, "offload never started")

	shut := make(chan error, 1)
	go func() { shut <- shutdownWithin(e, 10*time.Second) }()
	// New connects are refused once Shutdown has begun.
	testutil.Eventually(t, 5*time.Second, func() bool {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
		}
		return err != nil
	}, "connects still accepted after Shutdown began")
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while an offload was in flight", err)
	default:
	}
	close(release)
	got, err := io.ReadAll(c) // the reply, then EOF as the engine closes the idle conn
	if err != nil || string(got) != "computed\n" {
		t.Fatalf("client read %q, %v; want the reply then EOF", got, err)
	}
	if err := testutil.Recv(t, shut, 10*time.Second, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := testutil.Recv(t, runDone, 5*time.Second, "Run to return"); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestShutdownClosesIdleConnsAtOnce(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 2})
	clients := make([]net.Conn, 10)
	for i := range clients {
		clients[i] = dial(t, "tcp", addr)
		roundTrip(t, clients[i], []byte("hi"))
	}
	start := time.Now()
	if err := shutdownWithin(e, 10*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown of idle conns took %v", d)
	}
	for _, c := range clients {
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle client read %d, %v; want EOF", n, err)
		}
	}
}

func TestShutdownDrainsQueuedWritesToASlowReader(t *testing.T) {
	const size = 8 << 20
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	e := newEngine(t, Options{Loops: 1})
	wrote := make(chan struct{})
	h := &handlerFunc{open: func(c *transport.Conn) {
		c.Write(payload)
		close(wrote)
	}}
	addr := serve(t, e, h)
	c := dial(t, "tcp", addr)
	testutil.Recv(t, wrote, 5*time.Second, "the server's write")
	shut := make(chan error, 1)
	go func() { shut <- shutdownWithin(e, 20*time.Second) }()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %d of %d bytes (%v): queued bytes were lost at Shutdown", len(got), size, err)
	}
	if err := testutil.Recv(t, shut, 20*time.Second, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestShutdownForceClosesWhatRemainsWhenItsContextEnds(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	closeErrs := make(chan error, 1)
	// The handler never consumes its input, so the conn never goes idle.
	h := &handlerFunc{close: func(_ *transport.Conn, err error) { closeErrs <- err }}
	addr := serve(t, e, h)
	c := dial(t, "tcp", addr)
	c.Write([]byte("half a request"))
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.BytesIn > 0 }, "never read")
	start := time.Now()
	err := shutdownWithin(e, 200*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown overran its 200ms deadline: %v", d)
	}
	if err := testutil.Recv(t, closeErrs, time.Second, "OnClose"); !errors.Is(err, loop.ErrClosed) {
		t.Fatalf("force-closed conn's OnClose got %v, want loop.ErrClosed", err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the client's conn is still open")
	}
}

func TestCloseAndShutdownAreSafeToRepeatAndMix(t *testing.T) {
	for _, seq := range [][]string{
		{"close", "close"},
		{"shutdown", "shutdown"},
		{"shutdown", "close"},
		{"close", "shutdown"},
	} {
		e, addr := startEcho(t, Options{Loops: 2, Workers: 2})
		roundTrip(t, dial(t, "tcp", addr), []byte("x"))
		for _, op := range seq {
			var err error
			if op == "close" {
				err = e.Close()
			} else {
				err = shutdownWithin(e, 5*time.Second)
			}
			if err != nil {
				t.Fatalf("%v: %s returned %v", seq, op, err)
			}
		}
		if err := e.Start(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Start after %v: %v, want ErrClosed", seq, err)
		}
		if _, err := e.Listen("tcp", "127.0.0.1:0", echo{}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Listen after %v: %v, want ErrClosed", seq, err)
		}
		if _, err := e.Dial("tcp", addr, echo{}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Dial after %v: %v, want ErrClosed", seq, err)
		}
	}
}

func TestShutdownBeforeStartReleasesEverything(t *testing.T) {
	before := testutil.OpenFds()
	e, err := New(Options{Loops: 2, Workers: 4, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Listen("tcp", "127.0.0.1:0", echo{}); err != nil {
		t.Fatal(err)
	}
	if err := shutdownWithin(e, time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if leaked := testutil.WaitFdsBack(before, 5*time.Second); len(leaked) > 0 {
		t.Fatalf("fds left open: %v", leaked)
	}
}

func TestEngineLeavesNoGoroutineOrFdBehind(t *testing.T) {
	before := testutil.OpenFds()
	goroutines := runtime.NumGoroutine()
	for _, stop := range []string{"close", "shutdown"} {
		e, err := New(Options{Loops: 2, Workers: 4, ReusePort: true, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		addr := serve(t, e, echo{})
		for i := 0; i < 20; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			roundTrip(t, c, []byte("x"))
			c.Close()
		}
		if stop == "close" {
			err = e.Close()
		} else {
			err = shutdownWithin(e, 5*time.Second)
		}
		if err != nil {
			t.Fatalf("%s: %v", stop, err)
		}
	}
	if leaked := testutil.WaitFdsBack(before, 5*time.Second); len(leaked) > 0 {
		t.Fatalf("fds left open: %v", leaked)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines },
		"%d goroutines, %d before", runtime.NumGoroutine(), goroutines)
}

func TestRunReturnsAfterShutdownFromAnotherGoroutine(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 1})
	runDone := make(chan error, 1)
	go func() { runDone <- e.Run(context.Background()) }()
	roundTrip(t, dial(t, "tcp", addr), []byte("x"))
	if err := shutdownWithin(e, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Recv(t, runDone, 5*time.Second, "Run"); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestRunWithContextClosesAtOnceWithoutShutdownTimeout(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 1})
	c := dial(t, "tcp", addr)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- e.Run(ctx) }()
	roundTrip(t, c, []byte("x"))
	cancel()
	if err := testutil.Recv(t, runDone, 5*time.Second, "Run"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if e.getState() != closed {
		t.Fatalf("engine state %v after Run returned", e.getState())
	}
}

// busyUntil reports its conns busy until released.
type busyUntil struct {
	echo
	release chan struct{}
}

func (b *busyUntil) Busy(*transport.Conn) bool {
	select {
	case <-b.release:
		return false
	default:
		return true
	}
}

func TestShutdownWaitsForAConnItsHandlerReportsBusy(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	h := &busyUntil{release: make(chan struct{})}
	c := dial(t, "tcp", serve(t, e, h))
	roundTrip(t, c, []byte("x"))
	shut := make(chan error, 1)
	go func() { shut <- shutdownWithin(e, 10*time.Second) }()
	// Busy, the idle-looking conn stays open and keeps being served.
	testutil.Eventually(t, 5*time.Second, func() bool { return e.getState() == draining }, "Shutdown never began")
	roundTrip(t, c, []byte("still served"))
	close(h.release)
	if err := testutil.Recv(t, shut, 10*time.Second, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v after Shutdown, want EOF", err)
	}
}

func TestOverloadPauseLeavesTheHandlersOwnPauseAlone(t *testing.T) {
	e := newEngine(t, Options{Loops: 1, Workers: 1, MaxInFlight: 1})
	release := make(chan struct{})
	reads := make(chan int, 16)
	h := &handlerFunc{data: func(c *transport.Conn) {
		reads <- c.Buffered()
		if c.Buffered() == 1 { // the first byte: fill the conn's one slot, pause by hand
			c.Discard(-1)
			e.Offload(c, func() any { <-release; return nil }, func(*transport.Conn, any) {})
			e.Offload(c, func() any { return nil }, func(*transport.Conn, any) {}) // ErrOverloaded
			c.PauseRead()
		}
	}}
	c := dial(t, "tcp", serve(t, e, h))
	c.Write([]byte("a"))
	testutil.Recv(t, reads, 5*time.Second, "first OnData")
	c.Write([]byte("bc"))
	close(release) // the engine lifts its own pause; the handler's must hold
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.OffloadsInFlight == 0 }, "offload never completed")
	idle := make(chan struct{})
	e.Loops()[0].Submit(func() { close(idle) })
	testutil.Recv(t, idle, 5*time.Second, "a round after the completion")
	select {
	case n := <-reads:
		t.Fatalf("OnData ran (%d bytes) while the handler had paused the conn", n)
	default:
	}
}

func TestShutdownAndCloseAtOnceNeitherRaceNorPanic(t *testing.T) {
	for i := 0; i < 30; i++ {
		e, addr := startEcho(t, Options{Loops: 2, ReusePort: i%2 == 0})
		roundTrip(t, dial(t, "tcp", addr), []byte("x"))
		done := make(chan error, 2)
		go func() { done <- shutdownWithin(e, 5*time.Second) }()
		go func() { done <- e.Close() }()
		for j := 0; j < 2; j++ {
			if err := testutil.Recv(t, done, 10*time.Second, "Shutdown and Close"); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
	}
}

func TestAddrsFromALoopDoesNotDeadlockAConcurrentListen(t *testing.T) {
	e := newEngine(t, Options{Loops: 2, ReusePort: true})
	serve(t, e, echo{})
	stop := make(chan struct{})
	defer close(stop)
	for _, l := range e.Loops() {
		var poll func()
		poll = func() {
			e.Addrs() // the lock it takes must never be held while waiting for a loop
			select {
			case <-stop:
			default:
				l.AfterFunc(0, poll)
			}
		}
		l.Submit(poll)
	}
	for i := 0; i < 20; i++ {
		listened := make(chan error, 1)
		go func() {
			_, err := e.Listen("tcp", "127.0.0.1:0", echo{})
			listened <- err
		}()
		if err := testutil.Recv(t, listened, 5*time.Second, "Listen while loops read Addrs"); err != nil {
			t.Fatal(err)
		}
	}
}

// A Run that starts only after Shutdown has finished (its goroutine was slow to
// be scheduled) reports what an earlier Run would have: nil, not ErrClosed.
func TestRunCalledAfterShutdownReportsTheSameAsBefore(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 1})
	roundTrip(t, dial(t, "tcp", addr), []byte("x"))
	if err := shutdownWithin(e, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background()); err != nil {
		t.Fatalf("Run after Shutdown: %v, want nil", err)
	}
}
