package main

import (
	"flag"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
)

// The request timeout (-request-timeout) bounds a whole request, head and body,
// from its first byte; the header timeout (-header-timeout) its head alone. See
// requestClock.

// slowBodyHead announces a 1000-byte body that the tests below send slowly, or
// not in full.
const slowBodyHead = "POST /plaintext HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n"

// A client sends its head at once, then trickles its 1000-byte body at 10 bytes
// every 100 ms, faster than the idle timeout, so that -idle never ends it (at
// that pace the body would take 10 s). The server answers 408 with "Connection:
// close" no sooner than the 500 ms request timeout after the head (the 200 ms
// header timeout is for the head only, which was on time) and no later than
// sClosedWithin after that, then closes, long before the body is complete. The
// client gives up trickling by itself after 3 s, 300 bytes in, so a server that
// waits for the whole body fails the test instead of hanging it.
func TestTricklingBodyIsAnswered408AfterRequestTimeout(t *testing.T) {
	const headerTimeout, requestTimeout = 200 * time.Millisecond, 500 * time.Millisecond
	e := sStart(t, "-idle", "1s", "-header-timeout", headerTimeout.String(), "-request-timeout", requestTimeout.String())
	cl := dial(t, e.Addrs()[0].String())
	start := time.Now()
	cl.send(slowBodyHead)
	sent := trickle(t, cl.conn, "0123456789", 100*time.Millisecond, 3*time.Second)
	cl.conn.SetReadDeadline(start.Add(requestTimeout + sClosedWithin))
	resp, body := cl.read("POST")
	waited := time.Since(start)
	checkResponse(t, resp, body, 408, "request not received in full within the request timeout\n")
	if !resp.Close {
		t.Error("no Connection: close")
	}
	if waited < requestTimeout {
		t.Errorf("408 %v after the head, before the %v request timeout", waited, requestTimeout)
	}
	cl.expectEOF()
	if n := sent(); n >= 1000 {
		t.Errorf("the client sent its whole body (%d bytes) before the 408", n)
	}
}

// A body that arrives promptly, though in a read of its own (so the request clock
// runs while it is on its way), is answered as usual: POST gets 405. The clock
// stops with the answer: the conn, kept alive, outlasts the request timeout and
// serves the next request.
func TestPromptBodyIsAnsweredAndStopsTheRequestClock(t *testing.T) {
	const requestTimeout = 300 * time.Millisecond
	e := sStart(t, "-loops", "1", "-header-timeout", "200ms", "-request-timeout", requestTimeout.String())
	l := e.Loops()[0]
	cl := dial(t, e.Addrs()[0].String())
	sendAndAwaitRead(t, cl, l, "POST /plaintext HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\n")
	resp, body := cl.roundTrip("POST", "hello")
	checkResponse(t, resp, body, 405, "Method Not Allowed\n")
	<-time.After(2 * requestTimeout) // the pause is the scenario, not a wait for an event
	resp, body = cl.roundTrip("GET", get("/plaintext"))
	checkResponse(t, resp, body, 200, helloBody)
}

// One clock times the head and the body: a head that takes 0.6 of the timeout
// and a body that takes as long again make a request over the timeout, though
// neither part is over it alone. The rest of the body comes after the deadline,
// so the answer is a 408, not the 405 a clock restarted at the body would allow.
// The timeout is long enough that a stall of 0.8 s does not make the test fail.
func TestRequestTimeoutCountsFromTheHeadsFirstByte(t *testing.T) {
	const timeout = 2 * time.Second
	e := sStart(t, "-header-timeout", timeout.String(), "-request-timeout", timeout.String())
	cl := dial(t, e.Addrs()[0].String())
	pause := func() { <-time.After(timeout * 6 / 10) } // part of the scenario, not a wait for an event
	cl.send(slowBodyHead[:20])
	pause()
	cl.send(slowBodyHead[20:] + strings.Repeat("a", 500))
	pause()
	cl.send(strings.Repeat("a", 500))
	resp, body := cl.read("POST")
	checkResponse(t, resp, body, 408, "request not received in full within the request timeout\n")
	cl.expectEOF()
}

// splitRequest is a request sent in two writes, the first read by the server
// alone, and what it is answered.
type splitRequest struct {
	partial, rest string
	method        string
	status        int
	body          string
}

var (
	splitHead = splitRequest{"GET /plaintext HTTP/1.1\r\n", "Host: test\r\n\r\n", "GET", 200, helloBody}
	splitBody = splitRequest{"POST /plaintext HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\n", "hello",
		"POST", 405, "Method Not Allowed\n"}
)

// A conn holds a loop timer only while part of a request is buffered: a head,
// or a body while -request-timeout is set. A conn whose requests arrive whole
// holds none.
func TestRequestClockRunsOnlyWhileARequestIsPartial(t *testing.T) {
	for _, tc := range []struct {
		name         string
		args         []string
		req          splitRequest
		whilePartial int // the loop's timers while the request is partial
	}{ // a minute: no timer fires on its own during the test
		{"head", []string{"-header-timeout", "1m"}, splitHead, 2},
		{"head/no-timeouts", []string{"-header-timeout", "0", "-request-timeout", "0"}, splitHead, 1},
		{"body", []string{"-request-timeout", "1m"}, splitBody, 2},
		{"body/no-request-timeout", []string{"-header-timeout", "1m", "-request-timeout", "0"}, splitBody, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sStart(t, append(tc.args, "-loops", "1")...)
			l := e.Loops()[0]
			timers := func(want int) {
				t.Helper()
				testutil.Eventually(t, waitLimit, func() bool { return l.Stats().Timers == want },
					"%d timers on the loop, want %d", l.Stats().Timers, want)
			}
			timers(1) // the Date clock
			cl := dial(t, e.Addrs()[0].String())
			answered := func(raw string) {
				t.Helper()
				resp, body := cl.roundTrip(tc.req.method, raw)
				checkResponse(t, resp, body, tc.req.status, tc.req.body)
				timers(1)
			}
			answered(tc.req.partial + tc.req.rest) // whole: no clock
			for range 2 {                          // the second time re-arms the conn's clock
				sendAndAwaitRead(t, cl, l, tc.req.partial)
				timers(tc.whilePartial)
				answered(tc.req.rest)
			}
			sendAndAwaitRead(t, cl, l, tc.req.partial)
			timers(tc.whilePartial)
			cl.conn.Close()
			timers(1)
		})
	}
}

func TestTimeoutFlagsDefaultTo10sAnd30sAndRejectNegative(t *testing.T) {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	f := register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if want := (timeouts{header: 10 * time.Second, request: 30 * time.Second}); f.timeouts != want {
		t.Fatalf("default timeouts %+v, want %+v", f.timeouts, want)
	}
	for _, name := range []string{"-header-timeout", "-request-timeout"} {
		fs := flag.NewFlagSet("http", flag.ContinueOnError)
		f := register(fs)
		if err := fs.Parse([]string{name, "-1ms"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.setup(nil); err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s -1ms: error %v, want one about %s", name, err, name)
		}
	}
}

// A partial head runs to the earlier of the two timeouts, a partial body to the
// request timeout; each deadline answers with the 408 that names it.
func TestHeadAndBodyDeadlines(t *testing.T) {
	for _, tc := range []struct {
		t             timeouts
		heads, bodies bound
	}{
		{timeouts{10, 30}, bound{10, headTimedOut}, bound{30, requestTimedOut}},
		{timeouts{30, 10}, bound{10, requestTimedOut}, bound{10, requestTimedOut}},
		{timeouts{10, 0}, bound{10, headTimedOut}, bound{0, requestTimedOut}},
		{timeouts{0, 30}, bound{30, requestTimedOut}, bound{30, requestTimedOut}},
		{timeouts{0, 0}, bound{0, requestTimedOut}, bound{0, requestTimedOut}},
	} {
		if heads, bodies := tc.t.headBound(), tc.t.bodyBound(); heads != tc.heads || bodies != tc.bodies {
			t.Errorf("%+v: heads %+v, bodies %+v; want %+v, %+v", tc.t, heads, bodies, tc.heads, tc.bodies)
		}
	}
}

// sendAndAwaitRead sends raw and waits until l has read it, so that the server
// sees it alone, without what the client sends next.
func sendAndAwaitRead(t *testing.T, cl *client, l *loop.Loop, raw string) {
	t.Helper()
	read := l.Stats().BytesIn
	cl.send(raw)
	testutil.Eventually(t, waitLimit, func() bool { return l.Stats().BytesIn >= read+uint64(len(raw)) },
		"the server read %q", raw)
}

// trickle writes chunk to conn every period from a goroutine of its own, and
// stops by itself once limit has passed or a write fails. The function it
// returns stops it, waits for it, and says how many bytes it sent; it is also
// called when the test ends.
func trickle(t *testing.T, conn net.Conn, chunk string, period, limit time.Duration) (stop func() int) {
	quit, sent := make(chan struct{}), make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		ticker := time.NewTicker(period)
		defer ticker.Stop()
		for end := time.After(limit); ; {
			select {
			case <-quit:
				return
			case <-end:
				return
			case <-ticker.C:
				if _, err := io.WriteString(conn, chunk); err != nil {
					return
				}
				n += len(chunk)
			}
		}
	}()
	var total int
	var stopped bool
	stop = func() int {
		if !stopped {
			stopped = true
			close(quit)
			total = testutil.Recv(t, sent, waitLimit, "the trickling client to stop")
		}
		return total
	}
	t.Cleanup(func() { stop() })
	return stop
}
