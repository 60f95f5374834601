package transport_test

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// capsSeen records the cap and len of what Peek and Next hand out.
type capsSeen struct {
	transport.BaseHandler
	got chan [2]int
}

func (h *capsSeen) OnData(c *transport.Conn) {
	for _, b := range [][]byte{peek(c, -1), peek(c, c.Buffered()), peek(c, 1), next(c, -1)} {
		h.got <- [2]int{len(b), cap(b)}
	}
}

func peek(c *transport.Conn, n int) []byte { b, _ := c.Peek(n); return b }
func next(c *transport.Conn, n int) []byte { b, _ := c.Next(n); return b }

func TestPeekAndNextSlicesCannotBeAppendedIntoTheSharedBuffer(t *testing.T) {
	h := &capsSeen{got: make(chan [2]int, 8)}
	l := startLoop(t, logLoopErrors(t))
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	c := dial(t, ln.Addr().String(), 0)
	c.Write([]byte("abc"))
	for i := 0; i < 4; i++ {
		lc := testutil.Recv(t, h.got, 5*time.Second, "a slice")
		if lc[0] != lc[1] {
			t.Fatalf("slice %d has len %d but cap %d: an append would overwrite the loop's read buffer", i, lc[0], lc[1])
		}
	}
}

// closeUnread queues more than the socket takes, then closes with input unread.
type closeUnread struct {
	transport.BaseHandler
	conns chan *transport.Conn
}

func (h *closeUnread) OnData(c *transport.Conn) {
	c.Write(make([]byte, 8<<20)) // the client does not read: the conn stays Closing
	c.Close()
	h.conns <- c
}

func TestCloseInsideOnDataKeepsNoUnreadInput(t *testing.T) {
	h := &closeUnread{conns: make(chan *transport.Conn, 1)}
	l := startLoop(t, logLoopErrors(t))
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	client := dial(t, ln.Addr().String(), 0)
	client.Write([]byte("unread request bytes"))
	c := testutil.Recv(t, h.conns, 5*time.Second, "OnData")
	type seen struct {
		state    transport.State
		buffered int
	}
	got := make(chan seen, 1)
	l.Submit(func() { got <- seen{c.State(), c.Buffered()} })
	s := testutil.Recv(t, got, 5*time.Second, "the conn's state")
	if s.state != transport.Closing || s.buffered != 0 {
		t.Fatalf("after Close in OnData: state %v with %d unread bytes kept, want closing with none", s.state, s.buffered)
	}
}

func TestAdoptMakesAConnOfAnAcceptedFd(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	ln, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		t.Fatal(err)
	}
	adopted := make(chan error, 1)
	served := make(chan error, 1)
	l.Submit(func() {
		served <- ln.ServeFunc(l, func(fd int, _ netip.AddrPort) {
			_, err := transport.Adopt(l, fd, echoHandler{}, transport.Config{})
			adopted <- err
		})
	})
	if err := testutil.Recv(t, served, 5*time.Second, "ServeFunc"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := dial(t, ln.Addr().String(), 0)
	if err := testutil.Recv(t, adopted, 5*time.Second, "Adopt"); err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	c.Write([]byte("adopted"))
	got := make([]byte, 7)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "adopted" {
		t.Fatalf("echo through an adopted conn: %q %v", got, err)
	}
	if _, err := transport.Adopt(l, -1, echoHandler{}, transport.Config{}); err == nil {
		t.Fatal("Adopt of fd -1 succeeded")
	}
}

// discardAll reports what Discard(-1) consumed and what was left.
type discardAll struct {
	transport.BaseHandler
	got chan [2]int
}

func (h *discardAll) OnData(c *transport.Conn) {
	n, _ := c.Discard(-1)
	h.got <- [2]int{n, c.Buffered()}
}

func TestDiscardOfMinusOneConsumesEverythingBuffered(t *testing.T) {
	h := &discardAll{got: make(chan [2]int, 1)}
	l := startLoop(t, logLoopErrors(t))
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	dial(t, ln.Addr().String(), 0).Write([]byte("seven b"))
	if got := testutil.Recv(t, h.got, 5*time.Second, "OnData"); got != [2]int{7, 0} {
		t.Fatalf("Discard(-1) consumed %d and left %d, want 7 and 0", got[0], got[1])
	}
}
