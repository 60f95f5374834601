package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/examples/internal/clitest"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/shard"
)

// Slowloris (RELIABILITY.md row 14): many conns that each send a request head a
// byte at a time, to hold the server's conns for as long as they like. The idle
// timeout (-idle) ends those that pause longer than it between bytes; the header
// timeout (-header-timeout) ends those that trickle faster than that. Either way
// they are closed within a bounded time, and new clients are served meanwhile.

const (
	// sSlowClients is how many slowloris conns a test opens: the row's 1k.
	sSlowClients = 1000
	// sServedWithin bounds how long a new client may wait for its response while
	// the slowloris conns are open.
	sServedWithin = 2 * time.Second
	// sClosedWithin bounds how long after its timeout is due a slowloris conn may
	// still be open: the server's timer, the client's polling, and a loaded
	// machine under the race detector.
	sClosedWithin = 3 * time.Second
)

// sSlowHead is what a slowloris conn trickles: the start of a valid head whose
// last field never ends. At 10 bytes a second no test gets near its end.
var sSlowHead = "GET /plaintext HTTP/1.1\r\nHost: test\r\nX-Slow: " + strings.Repeat("a", 4<<10)

// sStart serves the http server with args on its command line, as main parses
// it, on top of clitest's test flags (a loopback port, two loops, round-robin,
// no drain). It stops when the test ends.
func sStart(t *testing.T, args ...string) *shard.Engine {
	t.Helper()
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	f := register(fs)
	base := []string{"-addr", "127.0.0.1:0", "-loops", "2", "-balance", "round-robin", "-drain", "0s"}
	if err := fs.Parse(append(base, args...)); err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	return clitest.Start(t, f.Flags, f.setup, waitLimit)
}

// TestSlowlorisIsClosedByIdleTimeout: 1000 conns each send a byte of a head
// every second, more slowly than the 300 ms idle timeout (a scaled-down "every
// few seconds"); no header timeout is set. The server closes every one of them,
// no sooner than the idle timeout after its last byte and no later than
// sClosedWithin after that, without a response; new clients get their 200 within
// sServedWithin all along.
func TestSlowlorisIsClosedByIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	e := sStart(t, "-idle", idle.String(), "-header-timeout", "0") // the idle timeout alone
	addr := e.Addrs()[0].String()
	fleet := sNewFleet(t, addr, sSlowClients, time.Second, false)
	probes := sStartProber(t, e)
	fleet.drive(t, 50*time.Millisecond, 10*time.Second, "closed", func(sc *sSlowClient) bool {
		return sc.ended()
	})
	probes.stopAndCheck(t)
	for i, sc := range fleet.clients {
		end := sc.endedAt()
		switch {
		case len(sc.got) > 0:
			t.Fatalf("slow client %d: the server sent %q, want a close without a response", i, sc.got)
		case end.Sub(sc.lastAt) < idle/2:
			t.Fatalf("slow client %d: closed %v after its last byte, before the %v idle timeout", i, end.Sub(sc.lastAt), idle)
		case end.Sub(sc.lastAt) > idle+sClosedWithin:
			t.Fatalf("slow client %d: closed %v after its last byte; the idle timeout is %v", i, end.Sub(sc.lastAt), idle)
		}
	}
	sExpectNoConnOpen(t, e)
}

// TestTricklingHeadIsAnswered408AfterHeaderTimeout: 1000 conns each send a byte
// of a head every 100 ms, faster than any idle timeout (none is set). Each gets
// 408 with "Connection: close", no sooner than the 500 ms header timeout after
// its first byte and no later than sClosedWithin after that, and is closed even
// though it keeps trickling and never closes its side. New clients get their 200
// within sServedWithin all along, and a keep-alive client that pauses longer
// than the header timeout between requests is not closed: the timeout covers a
// partial head only.
func TestTricklingHeadIsAnswered408AfterHeaderTimeout(t *testing.T) {
	const headerTimeout = 500 * time.Millisecond
	e := sStart(t, "-header-timeout", headerTimeout.String(), "-idle", "0")
	addr := e.Addrs()[0].String()
	keptAlive := make(chan error, 1)
	go func() { keptAlive <- sPausingKeepAliveClient(addr, headerTimeout) }()
	fleet := sNewFleet(t, addr, sSlowClients, 100*time.Millisecond, true)
	probes := sStartProber(t, e)
	fleet.drive(t, 50*time.Millisecond, 10*time.Second, "answered and at their EOF", func(sc *sSlowClient) bool {
		return sc.ended()
	})
	probes.stopAndCheck(t)
	if err := testutil.Recv(t, keptAlive, waitLimit, "the keep-alive client"); err != nil {
		t.Fatalf("keep-alive client pausing between requests: %v", err)
	}
	for i, sc := range fleet.clients {
		waited := sc.eofAt.Sub(sc.firstAt)
		switch {
		case sc.eofAt.IsZero():
			t.Fatalf("slow client %d: reset before its response (%q): %v", i, sc.got, sc.failure)
		case !strings.HasPrefix(string(sc.got), "HTTP/1.1 408 Request Timeout\r\n") ||
			!strings.Contains(string(sc.got), "\r\nConnection: close\r\n"):
			t.Fatalf("slow client %d: got %q, want 408 with Connection: close", i, sc.got)
		case waited < headerTimeout:
			t.Fatalf("slow client %d: 408 %v after its first byte, before the %v header timeout", i, waited, headerTimeout)
		case waited > headerTimeout+sClosedWithin:
			t.Fatalf("slow client %d: 408 %v after its first byte; the header timeout is %v", i, waited, headerTimeout)
		}
	}
	// The slow clients go on trickling into conns whose write side the server
	// has shut; it must close them anyway (see lingerClose).
	fleet.drive(t, 50*time.Millisecond, lingerTimeout+sClosedWithin, "reset", func(sc *sSlowClient) bool {
		return !sc.failedAt.IsZero()
	})
	sExpectNoConnOpen(t, e)
}

// The clock covers one head at a time: when a read completes a head and starts
// the next, the next gets a whole header timeout of its own. Each head here
// takes 0.6 of the timeout; timed from the first, the second would be late. The
// timeout is long enough that a stall of 0.8 s does not make the test fail.
func TestHeaderTimeoutRestartsAtEachNewHead(t *testing.T) {
	const headerTimeout = 2 * time.Second
	e := sStart(t, "-header-timeout", headerTimeout.String())
	cl := dial(t, e.Addrs()[0].String())
	pause := func() { <-time.After(headerTimeout * 6 / 10) } // part of the scenario, not a wait for an event
	cl.send("GET /plaintext HTTP/1.1\r\nHost: test\r\n")
	pause()
	cl.send("\r\nGET /json HTTP/1.1\r\n")
	pause()
	cl.send("Host: test\r\n\r\n")
	resp, body := cl.read("GET")
	checkResponse(t, resp, body, 200, helloBody)
	resp, body = cl.read("GET")
	checkResponse(t, resp, body, 200, jsonBody)
}

// sExpectNoConnOpen waits (bounded) until the server holds no conn.
func sExpectNoConnOpen(t *testing.T, e *shard.Engine) {
	t.Helper()
	testutil.Eventually(t, sClosedWithin, func() bool { return e.Stats().Total.Open == 0 },
		"the server still holds %d conns", e.Stats().Total.Open)
}

// sPausingKeepAliveClient is a well-behaved keep-alive client: one conn, whole
// requests, and pauses of twice the header timeout between them. Every request
// must get its 200 on the same conn. (That a head completed in time stops the
// clock is checked, without timing, by TestRequestClockRunsOnlyWhileARequestIsPartial.)
func sPausingKeepAliveClient(addr string, headerTimeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitLimit))
	r := bufio.NewReader(conn)
	for i := range 3 {
		if i > 0 {
			<-time.After(2 * headerTimeout) // the pause is the scenario, not a wait for an event
		}
		if _, err := io.WriteString(conn, get("/plaintext")); err != nil {
			return fmt.Errorf("request %d: write: %w", i, err)
		}
		if err := sReadHello(r); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
	}
	return nil
}

// sReadHello reads one response and checks that it is /plaintext's 200.
func sReadHello(r *bufio.Reader) error {
	resp, err := http.ReadResponse(r, &http.Request{Method: "GET"})
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(body) != helloBody {
		return fmt.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, helloBody)
	}
	return nil
}

// sProber is a stream of new clients, one after another, each a fresh conn
// with one request, made while the slowloris conns come and go.
type sProber struct {
	stop     chan struct{}
	stopOnce sync.Once
	finished chan struct{} // closed when the prober's goroutine returns
	report   sProbeReport  // valid once finished is closed
}

// sProbeReport is what the prober saw: how many new clients it ran, the most
// conns the server held when one of them started, and the first failure.
type sProbeReport struct {
	probes  int
	maxOpen int
	err     error
}

// sStartProber starts the prober on its own goroutine, with new clients for e.
// It stops, at the latest, when the test ends.
func sStartProber(t *testing.T, e *shard.Engine) *sProber {
	addr := e.Addrs()[0].String()
	p := &sProber{stop: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(p.finished)
		// The pause between two new clients keeps the prober from taking a
		// core from the slowloris driver.
		pace := time.NewTicker(20 * time.Millisecond)
		defer pace.Stop()
		for {
			p.report.maxOpen = max(p.report.maxOpen, e.Stats().Total.Open)
			if err := sGetWithin(addr, sServedWithin); err != nil {
				p.report.err = fmt.Errorf("new client %d: %w", p.report.probes, err)
				return
			}
			p.report.probes++
			select {
			case <-p.stop:
				return
			case <-pace.C:
			}
		}
	}()
	t.Cleanup(func() { p.halt(t) })
	return p
}

// halt stops the prober and waits (bounded) for its goroutine to return.
func (p *sProber) halt(t *testing.T) {
	t.Helper()
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.finished:
	case <-time.After(waitLimit):
		t.Fatalf("the prober did not stop within %v", waitLimit)
	}
}

// stopAndCheck stops the prober and fails the test if a new client was not
// served in time, or if no new client ran while many slowloris conns were open.
func (p *sProber) stopAndCheck(t *testing.T) {
	t.Helper()
	p.halt(t)
	if p.report.err != nil {
		t.Fatal(p.report.err)
	}
	t.Logf("%d new clients served, the server holding up to %d conns", p.report.probes, p.report.maxOpen)
	if p.report.maxOpen < sSlowClients/10 {
		t.Fatalf("new clients ran while the server held at most %d conns, want %d or more", p.report.maxOpen, sSlowClients/10)
	}
}

// sGetWithin dials addr, sends one GET /plaintext and checks for its 200, all
// within limit.
func sGetWithin(addr string, limit time.Duration) error {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, limit)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(start.Add(limit))
	if _, err := io.WriteString(conn, get("/plaintext")); err != nil {
		return err
	}
	if err := sReadHello(bufio.NewReader(conn)); err != nil {
		return fmt.Errorf("not served within %v: %w", limit, err)
	}
	return nil
}

// sFleet is a set of slowloris conns, all opened and driven by one goroutine
// (drive's caller), which never blocks on any of them.
type sFleet struct {
	addr     string
	size     int           // how many conns drive opens
	period   time.Duration // between two bytes on one conn
	afterEOF bool          // go on sending after the server's EOF, as a hostile client would
	clients  []*sSlowClient
	buf      []byte // read buffer
}

// sNewFleet returns a fleet of size conns to addr, each to trickle sSlowHead a
// byte every period, none open yet (drive opens them). Its conns are closed when
// the test ends.
func sNewFleet(t *testing.T, addr string, size int, period time.Duration, afterEOF bool) *sFleet {
	fl := &sFleet{addr: addr, size: size, period: period, afterEOF: afterEOF, buf: make([]byte, 4096)}
	t.Cleanup(func() {
		for _, sc := range fl.clients {
			sc.conn.Close()
		}
	})
	return fl
}

// sSlowClient is one slowloris conn and what it saw.
type sSlowClient struct {
	conn            net.Conn
	raw             syscall.RawConn
	sent            int       // bytes of the head sent so far
	firstAt, lastAt time.Time // just before its first and its latest byte were sent
	got             []byte    // what the server sent
	eofAt           time.Time // when the server's EOF was read; zero before
	failedAt        time.Time // when a read or write failed (a reset); zero before
	failure         error
}

// ended reports whether the server has ended the conn: sent its EOF or reset it.
func (sc *sSlowClient) ended() bool { return !sc.eofAt.IsZero() || !sc.failedAt.IsZero() }

// endedAt is when the conn was first seen ended.
func (sc *sSlowClient) endedAt() time.Time {
	if sc.eofAt.IsZero() || (!sc.failedAt.IsZero() && sc.failedAt.Before(sc.eofAt)) {
		return sc.failedAt
	}
	return sc.eofAt
}

// sDialsPerTick bounds how many conns drive opens in one tick, so that the
// conns already open get their next byte on time while the fleet grows.
const sDialsPerTick = 200

// grow opens up to sDialsPerTick more conns, each sending its first byte at once.
func (fl *sFleet) grow(t *testing.T) {
	t.Helper()
	for range min(sDialsPerTick, fl.size-len(fl.clients)) {
		sc, err := sDialSlow(fl.addr)
		if err != nil {
			t.Fatalf("slow client %d: %v", len(fl.clients), err)
		}
		fl.clients = append(fl.clients, sc)
		sc.firstAt = time.Now()
		fl.trickle(sc, sc.firstAt)
	}
}

// sDialSlow connects one slowloris conn to addr.
func sDialSlow(addr string) (*sSlowClient, error) {
	conn, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(2 * waitLimit)) // one byte at a time never fills the socket
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &sSlowClient{conn: conn, raw: raw}, nil
}

// drive, every tick, opens more conns until all are open (see grow), polls
// every conn and sends each its next byte when due, until every conn satisfies
// done (what says what done means, for the failure message); it fails the test
// if that takes longer than limit.
func (fl *sFleet) drive(t *testing.T, tick, limit time.Duration, what string, done func(*sSlowClient) bool) {
	t.Helper()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	deadline := time.Now().Add(limit)
	for {
		fl.grow(t)
		pending := fl.size - len(fl.clients)
		for _, sc := range fl.clients {
			fl.poll(sc)
			if now := time.Now(); now.Sub(sc.lastAt) >= fl.period {
				fl.trickle(sc, now)
			}
			if !done(sc) {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d of %d slow clients not yet %s", limit, pending, len(fl.clients), what)
		}
		<-ticker.C
	}
}

// trickle sends sc's next byte, unless the conn failed, or ended and the fleet
// is not hostile, or the head is all sent.
func (fl *sFleet) trickle(sc *sSlowClient, now time.Time) {
	if !sc.failedAt.IsZero() || (!sc.eofAt.IsZero() && !fl.afterEOF) || sc.sent == len(sSlowHead) {
		return
	}
	if _, err := io.WriteString(sc.conn, sSlowHead[sc.sent:sc.sent+1]); err != nil {
		sc.fail(err)
		return
	}
	sc.sent++
	sc.lastAt = now
}

// poll reads what the server sent without blocking, and notes its EOF or a
// failure.
func (fl *sFleet) poll(sc *sSlowClient) {
	for sc.eofAt.IsZero() && sc.failedAt.IsZero() {
		var n int
		var readErr error
		err := sc.raw.Read(func(fd uintptr) bool {
			n, readErr = syscall.Read(int(fd), fl.buf)
			return true // never wait: poll reads what is there
		})
		switch {
		case err != nil:
			sc.fail(err)
		case errors.Is(readErr, syscall.EAGAIN):
			return
		case errors.Is(readErr, syscall.EINTR):
		case readErr != nil:
			sc.fail(readErr)
		case n == 0:
			sc.eofAt = time.Now()
		default:
			sc.got = append(sc.got, fl.buf[:n]...)
		}
	}
}

// fail notes that a read or a write on sc failed: the server reset it.
func (sc *sSlowClient) fail(err error) {
	if sc.failedAt.IsZero() {
		sc.failedAt, sc.failure = time.Now(), err
	}
}
