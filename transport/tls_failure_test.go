//go:build linux

package transport_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// timerSlack is how late after its deadline a handshake timeout may report,
// on a loaded machine under the race detector.
const timerSlack = 1500 * time.Millisecond

func TestTLSGarbageOnATLSPortIsClosedAndTheLoopServesOn(t *testing.T) {
	h := newRecordingHandler()
	h.data = echoAll
	// Garbage that begins like a handshake record may announce a record (or a
	// handshake message) longer than what follows, and wait for the rest: the
	// handshake timeout ends those.
	_, addr := serveTLS(t, h, func(c *transport.TLS) { c.HandshakeTimeout = time.Second })
	r := rand.New(rand.NewPCG(23, 0))
	type garbage struct {
		c      net.Conn
		notTLS bool // its first byte is not 22: ErrNotTLS, at once
		what   string
	}
	var sent []garbage
	for i := 0; i < 24; i++ {
		p := randomPattern(uint64(i), 1+r.IntN(4096))
		var what string
		switch i % 3 {
		case 0: // random
			if p[0] == 22 {
				p[0] = 23
			}
			what = "random bytes"
		case 1: // 22, then random
			p[0] = 22
			what = "22 then random bytes"
		case 2: // a whole handshake record with a random body
			body := p[:1+r.IntN(len(p))]
			p = append([]byte{22, 3, 1, byte(len(body) >> 8), byte(len(body))}, body...)
			what = "a handshake record of random bytes"
		}
		c := dial(t, addr, 0)
		c.Write(p) // the server may close before all is in: a write error is fine
		sent = append(sent, garbage{c, p[0] != 22, fmt.Sprintf("conn %d (%s, %d bytes)", i, what, len(p))})
	}
	for _, g := range sent {
		expectPeerClosed(t, g.c, g.what)
	}
	notTLS := 0
	for range sent {
		cl := h.waitClosed(t)
		switch {
		case cl.err == nil:
			t.Errorf("a garbage conn closed with a nil error")
		case errors.Is(cl.err, transport.ErrNotTLS):
			notTLS++
		}
	}
	if want := len(sent) / 3; notTLS != want {
		t.Errorf("%d conns closed with ErrNotTLS, want %d (those whose first byte is not 22)", notTLS, want)
	}
	noOpen(t, h)

	c := dialTLS(t, addr, nil)
	expectEcho(t, c, "served after the garbage")
}

func TestTLSStalledHandshakeTimesOut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	hello := captureClientHello(t, testutil.TLS(t).ClientConfig())
	for _, tc := range []struct {
		name  string
		send  []byte
		whole bool // the server answers, then waits for the client's Finished
	}{
		{"silent client", nil, false},
		{"half a ClientHello", hello[:len(hello)/2], false},
		{"a whole ClientHello, then nothing", hello, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRecordingHandler()
			closedAt := make(chan time.Time, 1)
			h.close = func(*transport.Conn, error) { closedAt <- time.Now() }
			_, addr := serveTLS(t, h, func(c *transport.TLS) { c.HandshakeTimeout = timeout })
			start := time.Now() // before the accept, from which the timeout runs
			c := stallHandshake(t, addr, tc.send, tc.whole)
			cl := h.waitClosed(t)
			took := (<-closedAt).Sub(start)
			if !errors.Is(cl.err, transport.ErrHandshakeTimeout) {
				t.Fatalf("OnClose(%v), want ErrHandshakeTimeout", cl.err)
			}
			if took < timeout {
				t.Errorf("the handshake timed out %v after the dial, before its timeout of %v", took, timeout)
			}
			if took > timeout+timerSlack {
				t.Errorf("the handshake timed out %v after the dial, over %v late", took, timerSlack)
			}
			noOpen(t, h)
			expectPeerClosed(t, c, "the stalled client")
		})
	}
}

// TestTLSThousandStalledHandshakesDoNotDelayANewClient: half of the stalled
// conns sent the first bytes of a ClientHello (they hold no goroutine), half a
// whole one that the server answered (each holds a handshake goroutine waiting
// for a Finished that never comes). A new client is then served at once.
func TestTLSThousandStalledHandshakesDoNotDelayANewClient(t *testing.T) {
	const stalled = 1000
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 2*stalled+256 {
		t.Skipf("RLIMIT_NOFILE is %d: the test needs two fds per stalled conn", lim.Cur)
	}
	h := newRecordingHandler()
	h.data = echoAll
	// The stalled conns must outlive the test's setup, which is slow under the
	// race detector.
	_, addr := serveTLS(t, h, func(c *transport.TLS) { c.HandshakeTimeout = time.Minute })
	hello := captureClientHello(t, testutil.TLS(t).ClientConfig())

	// Dial a few at a time: a burst of a thousand connects could overflow the
	// accept queue, and a dropped SYN is retried only after a second.
	const dialers = 8
	var wg sync.WaitGroup
	conns := make([]net.Conn, stalled)
	for w := 0; w < dialers; w++ {
		wg.Go(func() {
			for i := w; i < stalled; i += dialers {
				c, err := net.DialTimeout("tcp", addr, waitFor)
				if err != nil {
					t.Errorf("dial stalled conn %d: %v", i, err)
					return
				}
				conns[i] = c
				c.SetDeadline(time.Now().Add(2 * waitFor))
				part := hello[:10]
				if i%2 == 1 {
					part = hello
				}
				if _, err := c.Write(part); err != nil {
					t.Errorf("stalled conn %d: write: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	// Every whole ClientHello has been answered: the server's handshake work
	// for them is done, and what is measured next is a new client alone.
	for i := 1; i < stalled; i += 2 {
		awaitServerFlight(t, conns[i])
	}

	start := time.Now()
	c := dialTLS(t, addr, nil)
	expectEcho(t, c, "served beside a thousand stalled handshakes")
	if took := time.Since(start); took > time.Second {
		t.Errorf("the new client's handshake and echo took %v beside %d stalled handshakes, want under a second", took, stalled)
	}
	select {
	case cl := <-h.closed:
		t.Errorf("a stalled conn closed while the new client was served: %v", cl.err)
	default:
	}
}

// TestTLSMaxHandshakesQueuesAndHandsOverASlot: with both slots held by stalled
// handshakes a new client waits, and is served once one of them ends.
func TestTLSMaxHandshakesQueuesAndHandsOverASlot(t *testing.T) {
	h := newRecordingHandler()
	h.data = echoAll
	_, addr := serveTLS(t, h, func(c *transport.TLS) {
		c.MaxHandshakes = 2
		c.HandshakeTimeout = time.Minute
	})
	hello := captureClientHello(t, testutil.TLS(t).ClientConfig())
	first := stallHandshake(t, addr, hello, true)
	stallHandshake(t, addr, hello, true)

	raw := dial(t, addr, 0)
	client := tls.Client(raw, testutil.TLS(t).ClientConfig())
	t.Cleanup(func() { client.Close() })
	var handshakeErr error
	handshakeDone := make(chan struct{})
	go func() {
		defer close(handshakeDone)
		handshakeErr = client.Handshake()
	}()
	t.Cleanup(func() {
		raw.Close()
		testutil.Recv(t, handshakeDone, waitFor, "the queued client's handshake to end")
	})

	// A bounded look for the failure: with the bound broken the handshake ends
	// in milliseconds.
	select {
	case <-handshakeDone:
		t.Fatalf("the third handshake ended (%v) while both slots were held", handshakeErr)
	case <-time.After(300 * time.Millisecond):
	}

	first.Close()
	if cl := h.waitClosed(t); cl.err == nil {
		t.Errorf("the stalled conn that the client closed reported a nil error")
	}
	testutil.Recv(t, handshakeDone, waitFor, "the queued client's handshake")
	if handshakeErr != nil {
		t.Fatalf("the queued client's handshake: %v", handshakeErr)
	}
	expectEcho(t, client, "served with the slot handed over")
}

func TestTLSPeerResetMidHandshakeClosesOnce(t *testing.T) {
	hello := captureClientHello(t, testutil.TLS(t).ClientConfig())
	for _, tc := range []struct {
		name  string
		send  []byte
		whole bool
	}{
		{"after the ClientHello", hello, true},
		{"within the ClientHello", hello[:len(hello)/2], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRecordingHandler()
			l, addr := serveTLS(t, h, nil)
			c := stallHandshake(t, addr, tc.send, tc.whole)
			if err := c.SetLinger(0); err != nil {
				t.Fatalf("SetLinger: %v", err)
			}
			c.Close() // a reset: SO_LINGER 0
			cl := h.waitClosed(t)
			if cl.err == nil {
				t.Errorf("OnClose(nil) after a reset mid-handshake, want an error")
			}
			runRounds(t, l, 3)
			if n := h.closeCount(cl.c); n != 1 {
				t.Errorf("OnClose ran %d times, want once", n)
			}
			noOpen(t, h)
		})
	}
}

// TestTLSHandshakesInProgressDoNotBlockTheLoop: fifty crypto/tls clients are
// held between the server's flight and their Finished, so fifty server
// handshakes wait for input; the loop's timers and tasks still run, and the
// handshakes complete once the clients go on.
func TestTLSHandshakesInProgressDoNotBlockTheLoop(t *testing.T) {
	const clients = 50
	h := newRecordingHandler()
	h.data = echoAll
	l, addr := serveTLS(t, h, nil)

	gate := make(chan struct{})
	var openGate sync.Once
	release := func() { openGate.Do(func() { close(gate) }) }
	t.Cleanup(release)
	atGate := make(chan struct{}, clients)
	results := make(chan error, clients)
	clientCfg := testutil.TLS(t).ClientConfig()
	for i := 0; i < clients; i++ {
		raw := dial(t, addr, 0)
		gc := &gatedConn{Conn: raw, gate: gate, arrived: atGate}
		go func() {
			tc := tls.Client(gc, clientCfg)
			defer tc.Close()
			err := tc.Handshake()
			if err == nil {
				err = echoOnce(tc, fmt.Sprintf("client %d", i))
			}
			results <- err
		}()
	}
	for i := 0; i < clients; i++ {
		testutil.Recv(t, atGate, waitFor, "a client to have the server's flight")
	}

	fired := make(chan struct{})
	ran := make(chan struct{})
	onLoop(t, l, func() { l.AfterFunc(10*time.Millisecond, func() { close(fired) }) })
	if err := l.Submit(func() { close(ran) }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	testutil.Recv(t, ran, time.Second, "a task while fifty handshakes wait")
	testutil.Recv(t, fired, time.Second, "a timer while fifty handshakes wait")
	select {
	case cl := <-h.closed:
		t.Fatalf("a waiting handshake closed: %v", cl.err)
	case <-h.opened:
		t.Fatal("a handshake completed before its client sent its Finished")
	default:
	}

	release()
	for i := 0; i < clients; i++ {
		if err := testutil.Recv(t, results, waitFor, "a client's handshake and echo"); err != nil {
			t.Errorf("client: %v", err)
		}
	}
}

// gatedConn is a client's net.Conn that holds its second Write (the client's
// Finished flight) until gate closes, telling arrived when it gets there.
type gatedConn struct {
	net.Conn
	gate    <-chan struct{}
	arrived chan<- struct{}
	writes  int // the tls.Conn's handshake writes from one goroutine
}

func (c *gatedConn) Write(b []byte) (int, error) {
	c.writes++
	if c.writes == 2 {
		c.arrived <- struct{}{}
		<-c.gate
	}
	return c.Conn.Write(b)
}

// echoOnce writes msg on c and checks that it comes back.
func echoOnce(c net.Conn, msg string) error {
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}
