package shard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/balance"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

func TestEchoKeepsFiveThousandConnsIntactOnTwoLoops(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 5,000 conns")
	}
	e, addr := startEcho(t, Options{Loops: 2})
	const conns = 5000
	clients := make([]net.Conn, conns)
	for i := range clients {
		clients[i] = dial(t, "tcp", addr)
	}
	// Every conn talks at once, each with its own payload, so a byte crossing
	// conns or loops would show.
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := []byte(fmt.Sprintf("conn %d says hello %d", i, i*i))
			if _, err := c.Write(msg); err != nil {
				errs <- err
				return
			}
			got := make([]byte, len(msg))
			if _, err := readFull(c, got); err != nil {
				errs <- err
				return
			}
			if string(got) != string(msg) {
				errs <- fmt.Errorf("conn %d got %q", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.Total.Open != conns || st.Total.Accepted != conns {
		t.Fatalf("stats: open %d accepted %d, want %d", st.Total.Open, st.Total.Accepted, conns)
	}
	for _, ls := range st.Loops {
		if ls.Open < conns/4 {
			t.Errorf("loop %d holds %d of %d conns: least-connections should spread them", ls.ID, ls.Open, conns)
		}
	}
	for _, c := range clients {
		c.Close()
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return e.Stats().Total.Open == 0 }, "conns still open: %+v", e.Stats().Total)
}

func readFull(c net.Conn, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := c.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestRoundRobinSpreadsRealConnsEvenly(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 3, Balancer: balance.RoundRobin()})
	const conns = 30
	for i := 0; i < conns; i++ {
		roundTrip(t, dial(t, "tcp", addr), []byte("x"))
	}
	for _, ls := range e.Stats().Loops {
		if ls.Accepted != conns/3 {
			t.Fatalf("loop %d accepted %d, want exactly %d: %+v", ls.ID, ls.Accepted, conns/3, e.Stats().Loops)
		}
	}
}

func TestSourceHashKeepsOneClientOnOneLoop(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 4, Balancer: balance.SourceHash()})
	for i := 0; i < 12; i++ {
		roundTrip(t, dial(t, "tcp", addr), []byte("x"))
	}
	busy := 0
	for _, ls := range e.Stats().Loops {
		if ls.Accepted > 0 {
			busy++
		}
	}
	if busy != 1 {
		t.Fatalf("one client address landed on %d loops: %+v", busy, e.Stats().Loops)
	}
}

func TestReusePortSpreadsConnsOverLoops(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 2, ReusePort: true})
	if st := e.Stats(); st.Acceptor != (LoopStats{}) {
		t.Fatalf("ReusePort made an acceptor loop: %+v", st.Acceptor)
	}
	const conns = 200
	for i := 0; i < conns; i++ {
		roundTrip(t, dial(t, "tcp", addr), []byte("x"))
	}
	for _, ls := range e.Stats().Loops {
		// The kernel hashes each 4-tuple to a listener: with 200 source ports
		// a loop getting fewer than 40 would be a broken spread.
		if ls.Accepted < conns/5 {
			t.Fatalf("loop %d accepted %d of %d conns: %+v", ls.ID, ls.Accepted, conns, e.Stats().Loops)
		}
	}
}

func TestDialToClosedPortReportsRefusedThroughOnClose(t *testing.T) {
	e := newEngine(t, Options{Loops: 2})
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	addr := closedPort(t)
	errs := make(chan error, 1)
	opened := make(chan struct{}, 1)
	h := &handlerFunc{
		open:  func(*transport.Conn) { opened <- struct{}{} },
		close: func(_ *transport.Conn, err error) { errs <- err },
	}
	if _, err := e.Dial("tcp", addr, h); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	err := testutil.Recv(t, errs, 5*time.Second, "OnClose of a refused dial")
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("OnClose got %v, want connection refused", err)
	}
	if len(opened) != 0 {
		t.Fatal("OnOpen ran for a refused connect")
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.Open == 0 }, "refused dial still counted open")
}

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDialFromHandlerStaysOnTheHandlersLoop(t *testing.T) {
	_, upstream := startEcho(t, Options{Loops: 1})
	e := newEngine(t, Options{Loops: 4, Balancer: balance.RoundRobin()})
	sameLoop := make(chan bool, 8)
	h := &handlerFunc{open: func(c *transport.Conn) {
		up, err := e.Dial("tcp", upstream, echo{})
		if err != nil {
			sameLoop <- false
			return
		}
		sameLoop <- up.Loop() == c.Loop()
	}}
	addr := serve(t, e, h)
	for i := 0; i < 8; i++ {
		dial(t, "tcp", addr)
		if !testutil.Recv(t, sameLoop, 5*time.Second, "dial from OnOpen") {
			t.Fatal("Dial from a handler put the conn on another loop (or failed)")
		}
	}
}

func TestListenServesSeveralAddressesAndNetworks(t *testing.T) {
	e := newEngine(t, Options{Loops: 2})
	sock := filepath.Join(t.TempDir(), "echo.sock")
	var addrs []net.Addr
	for _, na := range [][2]string{{"tcp", "127.0.0.1:0"}, {"tcp4", "127.0.0.1:0"}, {"unix", sock}} {
		a, err := e.Listen(na[0], na[1], echo{})
		if err != nil {
			t.Fatalf("Listen %s %s: %v", na[0], na[1], err)
		}
		addrs = append(addrs, a)
	}
	if a, err := e.Listen("tcp6", "[::1]:0", echo{}); err == nil {
		addrs = append(addrs, a)
	} else {
		t.Logf("no IPv6 loopback here: %v", err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	// One more after Start.
	late, err := e.Listen("tcp", "127.0.0.1:0", echo{})
	if err != nil {
		t.Fatalf("Listen after Start: %v", err)
	}
	addrs = append(addrs, late)
	if got := e.Addrs(); len(got) != len(addrs) {
		t.Fatalf("Addrs() = %v, want %v", got, addrs)
	}
	for _, a := range addrs {
		if a.String() == "" || a.String() == "127.0.0.1:0" {
			t.Fatalf("Listen returned %v, not the bound address", a)
		}
		roundTrip(t, dial(t, a.Network(), a.String()), []byte("hello "+a.String()))
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, opts := range []Options{{Loops: -1}, {Workers: -1}, {MaxInFlight: -1}, {MaxConns: -1}, {ShutdownTimeout: -1}, {Conn: transport.Config{MaxQueued: -1}}, {Conn: transport.Config{SoftMaxQueued: 1 << 20}}} {
		if e, err := New(opts); err == nil {
			e.Close()
			t.Errorf("New(%+v) accepted bad options", opts)
		}
	}
	e := newEngine(t, Options{})
	if len(e.Loops()) != runtimeCPUs() {
		t.Fatalf("Loops 0 made %d loops, want NumCPU %d", len(e.Loops()), runtimeCPUs())
	}
}

func TestListenRejectsBadInput(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	if _, err := e.Listen("tcp", "127.0.0.1:0", nil); err == nil {
		t.Error("Listen with a nil handler succeeded")
	}
	if _, err := e.Listen("udp", "127.0.0.1:0", echo{}); !errors.Is(err, transport.ErrNetwork) {
		t.Errorf("Listen udp: %v, want ErrNetwork", err)
	}
	if _, err := e.Listen("tcp", "127.0.0.1:99999", echo{}); err == nil {
		t.Error("Listen on port 99999 succeeded")
	}
	if _, err := e.Dial("tcp", "127.0.0.1:1", nil); err == nil {
		t.Error("Dial with a nil handler succeeded")
	}
}

func TestMaxConnsClosesConnsAboveItAndCountsThem(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 2, MaxConns: 3})
	var kept []net.Conn
	for i := 0; i < 3; i++ {
		c := dial(t, "tcp", addr)
		roundTrip(t, c, []byte("in"))
		kept = append(kept, c)
	}
	extra := dial(t, "tcp", addr)
	extra.Write([]byte("x"))
	if n, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the conn above MaxConns was served (%d bytes)", n)
	}
	if st := e.Stats(); st.Total.Refused != 1 || st.Total.Open != 3 {
		t.Fatalf("refused %d open %d, want 1 and 3", st.Total.Refused, st.Total.Open)
	}
	// Below the cap again, conns are served.
	kept[0].Close()
	testutil.Eventually(t, 5*time.Second, func() bool { return e.Stats().Total.Open == 2 }, "closed conn still counted")
	roundTrip(t, dial(t, "tcp", addr), []byte("again"))
}

func TestStatsCountBytesAndConns(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 2, Balancer: balance.RoundRobin()})
	c1, c2 := dial(t, "tcp", addr), dial(t, "tcp", addr)
	roundTrip(t, c1, make([]byte, 1000))
	roundTrip(t, c2, make([]byte, 500))
	c1.Close()
	testutil.Eventually(t, 5*time.Second, func() bool {
		st := e.Stats().Total
		return st.Closed == 1 && st.BytesIn == 1500 && st.BytesOut == 1500
	}, "stats: %+v", e.Stats().Total)
	st := e.Stats()
	if st.Total.Accepted != 2 || st.Total.Open != 1 || st.Total.Events == 0 || st.Total.Tasks == 0 {
		t.Fatalf("total %+v", st.Total)
	}
	if st.Acceptor.Events == 0 {
		t.Fatalf("the acceptor loop saw no event: %+v", st.Acceptor)
	}
	for _, ls := range st.Loops {
		if ls.Accepted != 1 || ls.BytesIn == 0 {
			t.Fatalf("loop %+v: want one conn and its bytes each", ls)
		}
	}
}

func TestWaitingMethodsRefuseTheLoopGoroutine(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	errs := make(chan []error, 1)
	e.Loops()[0].Submit(func() {
		_, lerr := e.Listen("tcp", "127.0.0.1:0", echo{})
		errs <- []error{lerr, e.Start(), e.Run(context.Background()), e.Shutdown(context.Background()), e.Close()}
	})
	for i, err := range testutil.Recv(t, errs, 5*time.Second, "calls from the loop") {
		if !errors.Is(err, ErrInLoop) {
			t.Errorf("call %d from the loop goroutine returned %v, want ErrInLoop", i, err)
		}
	}
}

func TestServeRunsUntilItsContextEnds(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "serve.sock")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, "unix", sock, echo{}, Options{Loops: 2, ShutdownTimeout: time.Second, Logger: quiet})
	}()
	var c net.Conn
	testutil.Eventually(t, 5*time.Second, func() bool {
		var err error
		c, err = net.Dial("unix", sock)
		return err == nil
	}, "Serve never listened on %s", sock)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	roundTrip(t, c, []byte("ping"))
	cancel()
	if err := testutil.Recv(t, served, 10*time.Second, "Serve to return"); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	c.Close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("the unix socket file outlived Serve: %v", err)
	}
}

func TestStartFailsCleanlyWhenPinningFails(t *testing.T) {
	if runtimeGOOS() == "linux" {
		t.Skip("pinning works here")
	}
	e, err := New(Options{Loops: 1, Pin: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err == nil {
		t.Fatal("Start with Pin succeeded where pinning is unsupported")
	}
	e.Close()
}

// A small, portable take on row 13 of RELIABILITY.md (the full one, 10,000
// conns, is TestStalledLoopIsRoutedAroundDuringAnAcceptBurst): a loop that sits
// on a conn it was handed is routed around by least-connections, and the conn
// that waited for it is served once it comes back.
func TestStalledLoopIsRoutedAroundDuringABurst(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 2}) // least-connections
	first := dial(t, "tcp", addr)              // loop 0: both were empty
	roundTrip(t, first, []byte("a"))

	stall := make(chan struct{})
	var unstall sync.Once
	release := func() { unstall.Do(func() { close(stall) }) }
	t.Cleanup(release) // before the engine's Close, which waits for the loop
	stalled := make(chan struct{})
	e.Loops()[1].Submit(func() { close(stalled); <-stall })
	testutil.Recv(t, stalled, 5*time.Second, "loop 1 to stall")

	// Loop 1 is the emptier: it gets the next conn, and sits on it.
	waiting := dial(t, "tcp", addr)
	waiting.Write([]byte("w"))
	testutil.Eventually(t, 5*time.Second, func() bool { return e.loads.Load(1) >= stalledLoad },
		"loop 1 never looked stalled: pending %d", e.nodes[1].count.pending.Load())

	const conns = 40
	clients := make([]net.Conn, conns)
	for i := range clients {
		clients[i] = dial(t, "tcp", addr)
		roundTrip(t, clients[i], []byte{byte(i)}) // served: loop 0 has it
	}
	if got := e.nodes[1].count.pending.Load(); got != 1 {
		t.Fatalf("the stalled loop was handed %d more conns", got-1)
	}
	release()
	got := make([]byte, 1)
	if _, err := readFull(waiting, got); err != nil || got[0] != 'w' {
		t.Fatalf("the conn that waited for the stalled loop read %q, %v", got, err)
	}
}

func TestLoadsMarkOnlyAStuckLoopStalled(t *testing.T) {
	now := int64(time.Hour)
	n := &node{}
	loads := nodeLoads{nodes: []*node{n}, clock: func() int64 { return now }}
	n.count.open.Store(3)
	if got := loads.Load(0); got != 3 {
		t.Fatalf("idle loop load %d, want its 3 open conns", got)
	}
	n.count.pending.Store(2)
	n.count.pendingSince.Store(now - int64(time.Millisecond))
	if got := loads.Load(0); got != 5 {
		t.Fatalf("loop with a fresh backlog: load %d, want 5", got)
	}
	n.count.pendingSince.Store(now - int64(time.Second))
	n.count.lastAdopt.Store(now - int64(time.Millisecond))
	if got := loads.Load(0); got != 5 {
		t.Fatalf("loop adopting steadily under a long backlog: load %d, want 5", got)
	}
	n.count.lastAdopt.Store(now - int64(time.Second))
	if got, want := loads.Load(0), stalledLoad+int(time.Second/time.Microsecond); got != want {
		t.Fatalf("loop that adopted nothing for a second: load %d, want stalledLoad plus a second in µs (%d)", got, want)
	}
	n.count.pendingSince.Store(0)
	n.count.lastAdopt.Store(0)
	if got := loads.Load(0); got != maxStalledLoad {
		t.Fatalf("loop that adopted nothing for an hour: load %d, want the cap maxStalledLoad", got)
	}
}

// When several loops look stalled at once (during a burst a busy loop can miss
// stallAfter by a moment on a loaded machine), least-connections and
// power-of-two must pick the one that stalled last, never the one stuck for
// long: a tie at one flat stalled load sent conns to the stuck loop whenever it
// had the lowest index or came up first in the draw.
func TestBalancersPreferTheLoopStalledLeastLong(t *testing.T) {
	now := int64(time.Hour)
	stuck, busy := &node{}, &node{}
	for _, n := range []*node{stuck, busy} {
		n.count.pending.Store(1)
		n.count.pendingSince.Store(0)
	}
	stuck.count.lastAdopt.Store(now - int64(time.Second))
	busy.count.lastAdopt.Store(now - int64(6*time.Millisecond))
	loads := &nodeLoads{nodes: []*node{stuck, busy}, clock: func() int64 { return now }}
	if loads.Load(0) < stalledLoad || loads.Load(1) < stalledLoad {
		t.Fatalf("loads %d and %d: want both stalled", loads.Load(0), loads.Load(1))
	}
	for _, b := range []balance.Balancer{balance.LeastConnections(), balance.PowerOfTwo()} {
		for i := 0; i < 100; i++ {
			if got := b.Pick(netip.AddrPort{}, loads); got != 1 {
				t.Fatalf("%s picked the loop stuck for a second over the one 6 ms behind", balancerName(b))
			}
		}
	}
}

func TestPickingALoopAllocatesNothing(t *testing.T) {
	e := newEngine(t, Options{Loops: 4})
	remote := netip.MustParseAddrPort("10.0.0.1:5000")
	if allocs := testing.AllocsPerRun(100, func() { e.pick(remote) }); allocs != 0 {
		t.Fatalf("picking a loop for an accepted conn allocates %.0f times", allocs)
	}
}

// Options.Wait reaches every loop; the zero value parks unpinned loops.
func TestOptionsWaitReachesEveryLoop(t *testing.T) {
	for _, tc := range []struct {
		wait, want loop.WaitMode
	}{{loop.WaitAuto, loop.WaitPark}, {loop.WaitBlock, loop.WaitBlock}, {loop.WaitPark, loop.WaitPark}} {
		e := newEngine(t, Options{Loops: 2, Wait: tc.wait})
		for i, l := range e.Loops() {
			if got := l.WaitMode(); got != tc.want {
				t.Errorf("Options.Wait %v: loop %d waits with %v, want %v", tc.wait, i, got, tc.want)
			}
		}
	}
	if _, err := New(Options{Pin: true, Wait: loop.WaitPark}); err == nil {
		t.Error("New with Pin and WaitPark succeeded: a pinned loop cannot park")
	}
}
