//go:build linux

// Linux only: these tests read kernel queue sizes (SIOCINQ, SIOCOUTQ), fake accept4
// through the syscall seam, or make sockets with SOCK_CLOEXEC/SOCK_NONBLOCK flags.

package transport_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/atomic"
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/owner"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
	"github.com/sycamore-go/sycamore/transport"
)

// acceptPair connects two clients to ln and returns them with their server-side
// conns, matched by address (server[i] is clients[i]'s peer).
func acceptPair(t *testing.T, l *loop.Loop, ln *transport.Listener, opened <-chan *transport.Conn) (clients [2]net.Conn, server [2]*transport.Conn) {
	t.Helper()
	var accepted [2]*transport.Conn
	for i := range clients {
		clients[i] = dial(t, ln.Addr().String(), 0)
		accepted[i] = testutil.Recv(t, opened, waitFor, "OnOpen of an accepted conn")
	}
	onLoop(t, l, func() {
		for _, c := range accepted {
			for i, cl := range clients {
				if c.RemoteAddr().String() == cl.LocalAddr().String() {
					server[i] = c
				}
			}
		}
	})
	if server[0] == nil || server[1] == nil {
		t.Fatal("could not match the accepted conns to their clients")
	}
	return clients, server
}

// Row 1 of RELIABILITY.md: while the loop handles the first of two data events of
// one batch, the handler closes the other conn and the listener and opens sockets
// until one gets an fd number above both: if either fd were closed at once, one of
// those sockets would take its number and the batch's pending event for the closed
// conn would reach the new owner.
func TestCloseDuringBatchDoesNotReachNewFD(t *testing.T) {
	l := startLoop(t, logLoopErrors(t))
	opened := make(chan *transport.Conn, 2)

	// State below is touched only on the loop goroutine until batchDone is closed.
	var (
		server      [2]*transport.Conn
		first       = -1 // index of the conn whose OnData ran first in the batch
		closedConns = map[*transport.Conn]int{}
		lateData    []string
		onClose     = map[*transport.Conn]int{}
		victimFd    = -1
		lnFd        = -1
		newTargets  []*quietTarget
		problems    []string
		batchEvents uint64
		batchDone   = make(chan struct{})
	)
	var ln *transport.Listener
	h := &funcHandler{
		open: func(c *transport.Conn) { opened <- c },
		close: func(c *transport.Conn, err error) {
			onClose[c]++
		},
	}
	h.data = func(c *transport.Conn) {
		b, _ := c.Next(-1)
		if closedConns[c] > 0 {
			lateData = append(lateData, fmt.Sprintf("fd %d got %q after its Close", c.Fd(), b))
		}
		if server[0] == nil || first >= 0 {
			c.Write(b) // outside the scenario: echo
			return
		}
		first = 0
		if c == server[1] {
			first = 1
		}
		victim := server[1-first]
		events0 := l.Stats().Events // counters of the rounds before this one
		victimFd, lnFd = victim.Fd(), ln.Fd()
		if err := victim.Close(); err != nil {
			problems = append(problems, fmt.Sprintf("victim Close: %v", err))
		}
		closedConns[victim]++
		if err := ln.Close(); err != nil {
			problems = append(problems, fmt.Sprintf("listener Close on the loop: %v", err))
		}
		// Take every free fd number up to past both closed ones.
		for i := 0; i < 4096; i++ {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				problems = append(problems, fmt.Sprintf("socket: %v", err))
				break
			}
			q := &quietTarget{fd: fd}
			if err := l.Register(q, poller.Readable); err != nil {
				unix.Close(fd)
				problems = append(problems, fmt.Sprintf("Register new fd %d: %v", fd, err))
				break
			}
			newTargets = append(newTargets, q)
			if fd > victimFd && fd > lnFd {
				break
			}
		}
		// A task submitted now runs in this round; the one it submits runs in the
		// next, when Stats has counted this round's events.
		l.Submit(func() {
			l.Submit(func() {
				batchEvents = l.Stats().Events - events0
				close(batchDone)
			})
		})
	}

	ln = serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	clients, srv := acceptPair(t, l, ln, opened)
	onLoop(t, l, func() { server = srv })

	// Hold the loop in a task until both server sockets have bytes queued, so that
	// the next Wait returns both data events in one batch.
	held := make(chan struct{})
	ready := make(chan bool, 1)
	if err := l.Submit(func() {
		close(held)
		deadline := time.Now().Add(waitFor)
		for time.Now().Before(deadline) {
			n0, _ := unix.IoctlGetInt(srv[0].Fd(), unix.SIOCINQ)
			n1, _ := unix.IoctlGetInt(srv[1].Fd(), unix.SIOCINQ)
			if n0 > 0 && n1 > 0 {
				ready <- true
				return
			}
			time.Sleep(time.Millisecond)
		}
		ready <- false
	}); err != nil {
		t.Fatal(err)
	}
	testutil.Recv(t, held, waitFor, "the loop to run the holding task")
	for i, c := range clients {
		if _, err := c.Write([]byte{'a' + byte(i)}); err != nil {
			t.Fatalf("client %d write: %v", i, err)
		}
	}
	if !testutil.Recv(t, ready, 2*waitFor, "both server sockets readable") {
		t.Fatal("setup: the server sockets never both had bytes queued")
	}
	testutil.Recv(t, batchDone, waitFor, "the batch with both data events")

	var (
		gotProblems, gotLate []string
		stale                []string
		victimCloses         int
		newFds               []int
		firstIdx             int
	)
	onLoop(t, l, func() {
		gotProblems, gotLate, firstIdx = problems, lateData, first
		victimCloses = onClose[srv[1-first]]
		for _, q := range newTargets {
			newFds = append(newFds, q.fd)
			for _, ev := range q.events {
				stale = append(stale, fmt.Sprintf("fd %d got event %+v", q.fd, ev))
			}
		}
	})
	if batchEvents < 2 {
		t.Fatalf("setup: the round of the first OnData had %d events, want both data events in one batch", batchEvents)
	}
	for _, p := range gotProblems {
		t.Error(p)
	}
	for _, fd := range newFds {
		if fd == victimFd || fd == lnFd {
			t.Errorf("a socket opened in the batch got fd %d, the number of a target closed in the same batch (conn %d, listener %d)", fd, victimFd, lnFd)
		}
	}
	t.Logf("first OnData: conn %d; closed conn fd %d and listener fd %d; new fds %v", firstIdx, victimFd, lnFd, newFds)
	for _, s := range stale {
		t.Errorf("stale event reached a new target: %s", s)
	}
	for _, s := range gotLate {
		t.Errorf("OnData after Close: %s", s)
	}
	if victimCloses != 1 {
		t.Errorf("the closed conn got %d OnClose calls, want 1", victimCloses)
	}

	// The closed conn's client sees the close; the other conn still echoes.
	expectPeerClosed(t, clients[1-firstIdx], "client of the conn closed in the batch")
	expectEcho(t, clients[firstIdx], "still open")

	onLoop(t, l, func() {
		for _, q := range newTargets {
			if len(q.events) > 0 {
				t.Errorf("fd %d got events after the batch: %+v", q.fd, q.events)
			}
			if err := l.Release(q); err != nil {
				t.Errorf("Release fd %d: %v", q.fd, err)
			}
		}
	})
}

// countWrites swaps sys.Write for one that counts the write syscalls made on fd
// (set it once known). It must run before the loop starts: the loop goroutine reads
// sys.Write. The original is restored when the test ends, after later cleanups.
func countWrites(t *testing.T) (fd, count *atomic.Int64) {
	fd, count = atomic.NewInt64(-1), atomic.NewInt64(0)
	realWrite := sys.Write
	t.Cleanup(sys.Swap(&sys.Write, func(f int, p []byte) (int, error) {
		if int64(f) == fd.Load() {
			count.Inc()
		}
		return realWrite(f, p)
	}))
	return fd, count
}

func TestWritesFromTaskFlushOnceAtRoundEnd(t *testing.T) {
	watched, writes := countWrites(t)
	l := startLoop(t, logLoopErrors(t))
	opened := make(chan *transport.Conn, 1)
	ln := serve(t, l, "tcp", "127.0.0.1:0", &funcHandler{open: func(c *transport.Conn) { opened <- c }}, transport.Config{})
	client := dial(t, ln.Addr().String(), 0)
	c := testutil.Recv(t, opened, waitFor, "OnOpen")
	watched.Store(int64(c.Fd()))

	var want bytes.Buffer
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&want, "write %02d;", i)
	}
	var errs []error
	onLoop(t, l, func() {
		for i := 0; i < 10; i++ {
			if _, err := c.Write([]byte(fmt.Sprintf("write %02d;", i))); err != nil {
				errs = append(errs, err)
			}
		}
	})
	for _, err := range errs {
		t.Errorf("Write from a task: %v", err)
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("client read: %v (got %q)", err, got)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("client got %q, want %q", got, want.Bytes())
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("10 Writes from one task took %d write syscalls, want 1 (one flush at the end of the round)", n)
	}
}

func TestProxyStyleWriteToOtherConn(t *testing.T) {
	watched, writes := countWrites(t)
	l := startLoop(t, logLoopErrors(t))
	opened := make(chan *transport.Conn, 2)
	var writeErrs []error // loop goroutine only
	h := &funcHandler{
		open: func(c *transport.Conn) { opened <- c },
		data: func(c *transport.Conn) {
			b, _ := c.Next(-1)
			if peer, ok := c.Context().(*transport.Conn); ok {
				if _, err := peer.Write(b); err != nil { // flushed at the end of the round
					writeErrs = append(writeErrs, err)
				}
			}
		},
	}
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	clients, server := acceptPair(t, l, ln, opened)
	onLoop(t, l, func() { server[0].SetContext(server[1]) })
	watched.Store(int64(server[1].Fd()))

	const messages = 5
	for i := 0; i < messages; i++ {
		msg := fmt.Sprintf("proxied message %d", i)
		if _, err := clients[0].Write([]byte(msg)); err != nil {
			t.Fatalf("write: %v", err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(clients[1], got); err != nil {
			t.Fatalf("message %d: read on the other conn's client: %v", i, err)
		}
		if string(got) != msg {
			t.Fatalf("message %d: got %q, want %q", i, got, msg)
		}
	}
	onLoop(t, l, func() {
		for _, err := range writeErrs {
			t.Errorf("Write to the other conn: %v", err)
		}
	})
	if n := writes.Load(); n != messages {
		t.Errorf("%d messages written to the other conn took %d write syscalls, want %d", messages, n, messages)
	}
}

// Row 11 of RELIABILITY.md: one conn floods the loop while 100 others ping. A
// real client on loopback cannot write faster than the loop reads, so its reads
// would reach EAGAIN anyway and the test could not tell a read budget from none;
// the flood therefore comes through the seam: while the pings run, every read of
// the firehose conn's fd returns a full buffer (its socket holds one real byte,
// so the level-triggered poller keeps reporting it readable). A conn that read
// until EAGAIN would never return to the loop; one read per readable event
// keeps every ping answered promptly.
func TestOneFirehoseConnDoesNotStarvePings(t *testing.T) {
	if owner.Checks {
		// The checks make each handler call a few microseconds dearer, so the
		// pings finish in too few rounds to tell whether the firehose floods.
		t.Skip("a timing test: the owner checks change its proportions")
	}
	const (
		pingers     = 100
		pingsEach   = 20
		pingBound   = 2 * time.Second // generous: -race on two cores
		pingMessage = "ping...!"
	)
	firehose := newWatchedFd()
	var flooding atomic.Bool
	var floodReads, flooded atomic.Int64
	interceptIO(t, &sys.Read, firehose, func(real ioFunc, fd int, p []byte) (int, error) {
		if !flooding.Load() {
			return real(fd, p)
		}
		floodReads.Inc()
		flooded.Add(int64(len(p)))
		return len(p), nil // the bytes of the previous read, as good as any
	})
	l := startLoop(t, logLoopErrors(t))
	opened := make(chan *transport.Conn, 1)
	sink := serve(t, l, "tcp", "127.0.0.1:0", &funcHandler{
		open: func(c *transport.Conn) { opened <- c },
		data: func(c *transport.Conn) { c.Discard(-1) },
	}, transport.Config{})
	echo := serve(t, l, "tcp", "127.0.0.1:0", echoHandler{}, transport.Config{NoDelay: true})

	flood := dial(t, sink.Addr().String(), 0)
	fc := testutil.Recv(t, opened, waitFor, "OnOpen of the firehose conn")
	firehose.Store(int64(fc.Fd()))
	flooding.Store(true)
	if _, err := flood.Write([]byte{'!'}); err != nil { // readable from now on
		t.Fatal(err)
	}
	testutil.Eventually(t, waitFor, func() bool { return floodReads.Load() >= 100 }, "the firehose to start")

	conns := make([]net.Conn, pingers)
	for i := range conns {
		conns[i] = dial(t, echo.Addr().String(), 0)
	}
	readsBefore := floodReads.Load()
	latencies := make([][]time.Duration, pingers)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply := make([]byte, len(pingMessage))
			for j := 0; j < pingsEach; j++ {
				start := time.Now()
				if err := pingPong(c, []byte(pingMessage), reply); err != nil {
					t.Errorf("pinger %d, ping %d: %v", i, j, err)
					return
				}
				latencies[i] = append(latencies[i], time.Since(start))
			}
		}()
	}
	wg.Wait()
	readsDuring := floodReads.Load() - readsBefore
	flooding.Store(false)

	var all []time.Duration
	for _, ls := range latencies {
		all = append(all, ls...)
	}
	if len(all) != pingers*pingsEach {
		t.Fatalf("%d of %d pings completed", len(all), pingers*pingsEach)
	}
	slices.Sort(all)
	p50, p99, worst := all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
	t.Logf("%d pings against a firehose (%d reads, %d MiB, during the pings): p50 %v, p99 %v, max %v",
		len(all), readsDuring, flooded.Load()>>20, p50, p99, worst)
	if readsDuring < pingers {
		t.Fatalf("the firehose conn was read only %d times during the pings: it was not flooding", readsDuring)
	}
	if p99 > pingBound {
		t.Errorf("ping p99 %v, want <= %v: the firehose starved the other conns", p99, pingBound)
	}
}

// bigWriter queues size bytes in OnOpen on a conn with a small send buffer.
type bigWriter struct {
	transport.BaseHandler
	size int
}

func (h bigWriter) OnOpen(c *transport.Conn) {
	unix.SetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF, 16<<10)
	c.Write(bytes.Repeat([]byte{'x'}, h.size))
}

// A conn whose queue is larger than the kernel will take writes once per Writable
// event: after a short write it does not try again in the same handler call, where
// the kernel could only answer EAGAIN. Writes that return EAGAIN therefore stay
// rare (spurious Writable events only), instead of one per short write.
func TestBlockedQueueIsNotRewrittenUntilWritable(t *testing.T) {
	var writes, eagains atomic.Int64
	realWrite := sys.Write
	t.Cleanup(sys.Swap(&sys.Write, func(fd int, p []byte) (int, error) {
		n, err := realWrite(fd, p)
		writes.Inc()
		if err == unix.EAGAIN {
			eagains.Inc()
		}
		return n, err
	}))
	const size = 1 << 20
	l := startLoop(t, logLoopErrors(t))
	ln := serve(t, l, "tcp", "127.0.0.1:0", bigWriter{size: size}, transport.Config{HighWater: -1})
	cl := dial(t, ln.Addr().String(), 0)
	cl.SetDeadline(time.Now().Add(waitFor))
	buf := make([]byte, 8<<10)
	for got := 0; got < size; {
		n, err := cl.Read(buf)
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v", got, size, err)
		}
		got += n
	}
	w, e := writes.Load(), eagains.Load()
	t.Logf("%d writes, %d returned EAGAIN", w, e)
	if w < 10 {
		t.Fatalf("only %d writes for %d bytes through a 16 KiB send buffer: the test did not exercise short writes", w, size)
	}
	if e*4 > w {
		t.Fatalf("%d of %d writes returned EAGAIN: the conn rewrote a blocked queue without waiting for Writable", e, w)
	}
}
