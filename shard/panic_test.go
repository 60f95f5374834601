package shard

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/balance"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// panicRecords is a slog.Handler that keeps the messages of the records logged
// at error level, so a test can see that the engine reported a panic.
type panicRecords struct {
	mu     sync.Mutex
	errors []string
}

func (h *panicRecords) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelError
}

func (h *panicRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.errors = append(h.errors, r.Message)
	h.mu.Unlock()
	return nil
}

func (h *panicRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *panicRecords) WithGroup(string) slog.Handler      { return h }

func (h *panicRecords) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.errors)
}

// Row 20 of RELIABILITY.md at engine level: OnData panics on one conn of a loop
// that serves another. The panicking conn must close, once, with a
// *loop.PanicError in OnClose, the panic must reach the engine's logger, the
// engine's open-conn count must drop by exactly that conn, and the loop must go on
// serving: the other conn on the same loop, a conn on the other loop, and a new
// conn. (TestHandlerPanicClosesOnlyThatConn is the same failure on a bare loop.)
func TestHandlerPanicUnderEngineClosesOnlyThatConn(t *testing.T) {
	logged := &panicRecords{}
	// Round-robin over two loops: the three first conns land on loops 0, 1, 0, so
	// the victim (the third) shares loop 0 with the first.
	e := newEngine(t, Options{Loops: 2, Balancer: balance.RoundRobin(), Logger: slog.New(logged)})
	type closing struct {
		c   *transport.Conn
		err error
	}
	closes := make(chan closing, 8)
	opened := make(chan *transport.Conn, 8)
	h := &handlerFunc{
		open: func(c *transport.Conn) { opened <- c },
		data: func(c *transport.Conn) {
			if p, _ := c.Peek(-1); bytes.Contains(p, []byte("boom")) {
				panic("boom")
			}
			b, _ := c.Next(-1)
			c.Write(b)
		},
		close: func(c *transport.Conn, err error) { closes <- closing{c, err} },
	}
	addr := serve(t, e, h)
	var clients [3]net.Conn
	var conns [3]*transport.Conn
	for i := range clients {
		clients[i] = dial(t, "tcp", addr)
		conns[i] = testutil.Recv(t, opened, 5*time.Second, "OnOpen")
		roundTrip(t, clients[i], []byte("hi"))
	}
	sameLoop, otherLoop, victim := clients[0], clients[1], clients[2]
	if conns[2].Loop() != conns[0].Loop() || conns[1].Loop() == conns[0].Loop() {
		t.Fatalf("round-robin put the conns on loops %d, %d, %d; want 0, 1, 0",
			conns[0].Loop().ID(), conns[1].Loop().ID(), conns[2].Loop().ID())
	}

	if _, err := victim.Write([]byte("boom")); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(victim); len(got) != 0 || isTimeout(err) {
		t.Fatalf("the panicking conn read %q, %v; want it closed by the server", got, err)
	}
	cl := testutil.Recv(t, closes, 5*time.Second, "OnClose of the panicking conn")
	var pe *loop.PanicError
	if cl.c != conns[2] || !errors.As(cl.err, &pe) || pe.Value != "boom" {
		t.Fatalf("OnClose(%p, %v); want the panicking conn %p with a *loop.PanicError", cl.c, cl.err, conns[2])
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return logged.count() > 0 }, "the panic was not logged")

	roundTrip(t, sameLoop, []byte("the loop lives on"))
	roundTrip(t, otherLoop, []byte("so does the other"))
	roundTrip(t, dial(t, "tcp", addr), []byte("and new conns are served"))
	testutil.Recv(t, opened, 5*time.Second, "OnOpen of the new conn")
	if st := e.Stats().Total; st.Open != 3 || st.Closed != 1 {
		t.Fatalf("stats after the panic: open %d closed %d, want 3 and 1", st.Open, st.Closed)
	}
	select {
	case cl := <-closes:
		t.Fatalf("another OnClose ran (%p, %v): the panic closed more than its conn", cl.c, cl.err)
	default:
	}
}

// isTimeout reports whether err is a deadline expiring.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
