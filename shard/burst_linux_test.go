//go:build linux

// Linux only: the clients live in a second process (see clients_linux_test.go).

package shard

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/balance"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

const (
	// burstConns is the size of the accept burst. Its clients are in a
	// subprocess: 10,000 loopback conns in one process would take 20,000 fds, and
	// that is this machine's limit per process.
	burstConns = 10000
	// burstWorkers is how many clients connect at once, so the acceptor finds
	// many conns per wakeup, as in a real burst.
	burstWorkers = 32
	// stallFor is how long loop k is blocked once the burst has begun: a handler
	// stuck in a syscall.
	stallFor = 500 * time.Millisecond
)

// Row 13 of RELIABILITY.md: loop 0 of three is blocked (a task that does not
// return, as a handler stuck in a syscall would) and has been handed one conn it
// cannot pick up, so the engine sees it stalled; then 10,000 clients connect, 32
// at a time, while it stays blocked for another 500 ms. With least-connections
// and with power-of-two, the blocked loop must be handed none of the burst while
// it is blocked, the other loops must accept the burst meanwhile, and nothing may
// be lost: every conn of the burst echoes its own payload, and so does the one
// that waited. Loop 0 is the hard case: during the burst the busy loops look
// stalled too now and then (on two loaded cores a loop thread can be off the CPU
// for more than stallAfter), and a tie between stalled loops used to go to the
// lowest index (least-connections) or the first draw (power-of-two). The small,
// portable version is TestStalledLoopIsRoutedAroundDuringABurst.
func TestStalledLoopIsRoutedAroundDuringAnAcceptBurst(t *testing.T) {
	if runAsClientProcess(t) {
		return
	}
	if testing.Short() {
		t.Skip("opens 20,000 conns")
	}
	for _, b := range []balance.Balancer{balance.LeastConnections(), balance.PowerOfTwo()} {
		t.Run(balancerName(b), func(t *testing.T) { burstAroundAStalledLoop(t, b) })
	}
}

func burstAroundAStalledLoop(t *testing.T, b balance.Balancer) {
	const k = 0 // the loop that least-connections picks on a tie
	e, addr := startEcho(t, Options{Loops: 3, Balancer: b})
	clients := startClientProcess(t, "TestStalledLoopIsRoutedAroundDuringAnAcceptBurst", addr, burstConns, burstWorkers)
	clients.expect(t, "ready", 30*time.Second)

	// Block loop k until the burst has run for stallFor. The task records, as
	// its last act on k, what k was handed meanwhile and what the others accepted.
	burst := make(chan struct{})
	var burstOnce sync.Once
	startBurst := func() { burstOnce.Do(func() { close(burst) }) }
	t.Cleanup(startBurst) // before the engine's Close, which waits for the loop
	stalled := make(chan struct{})
	type atRelease struct{ handedToK, acceptedElsewhere int64 }
	released := make(chan atRelease, 1)
	e.Loops()[k].Submit(func() {
		close(stalled)
		<-burst
		time.Sleep(stallFor) // the stall itself: k does nothing for this long
		var elsewhere int64
		for i, n := range e.nodes {
			if i != k {
				elsewhere += int64(n.count.accepted.Load())
			}
		}
		released <- atRelease{e.nodes[k].count.pending.Load(), elsewhere}
	})
	testutil.Recv(t, stalled, 5*time.Second, "loop k to block")

	// Hand k one conn, as a balancer does before it can know: dial until one
	// lands there. It waits in k's inbox, and once it has waited stallAfter the
	// engine reports k stalled. Each conn that lands elsewhere is adopted before
	// the next dial, so no other loop starts the burst with a backlog.
	var waiting []net.Conn
	handed := func() int64 {
		sum := e.nodes[k].count.pending.Load()
		for _, n := range e.nodes {
			sum += int64(n.count.accepted.Load())
		}
		return sum
	}
	for e.nodes[k].count.pending.Load() == 0 {
		if len(waiting) == 50 {
			t.Fatalf("%s never picked loop %d for 50 conns to three loops", balancerName(b), k)
		}
		c := dial(t, "tcp", addr)
		c.Write([]byte("w"))
		waiting = append(waiting, c)
		testutil.Eventually(t, 5*time.Second, func() bool { return handed() == int64(len(waiting)) },
			"conn %d was never handed to a loop", len(waiting))
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return e.loads.Load(k) >= stalledLoad },
		"loop %d never looked stalled: pending %d", k, e.nodes[k].count.pending.Load())

	clients.send(t, "go")
	startBurst()
	at := testutil.Recv(t, released, 30*time.Second, "loop k to come back")
	echoed := clients.expect(t, "echoed", 3*time.Minute)
	t.Logf("while loop %d was blocked the other loops accepted %d conns of the burst; client process: %s",
		k, at.acceptedElsewhere-int64(len(waiting)-1), echoed)
	if at.handedToK != 1 {
		t.Errorf("loop %d was handed %d conns while blocked, want only the one handed before it looked stalled",
			k, at.handedToK)
	}
	if at.acceptedElsewhere <= int64(len(waiting)-1) {
		t.Errorf("the other loops accepted nothing of the burst in the %v loop %d was blocked", stallFor, k)
	}
	for _, c := range waiting {
		got := make([]byte, 1)
		if _, err := readFull(c, got); err != nil || got[0] != 'w' {
			t.Fatalf("a conn dialled before the burst read %q, %v; want its echo", got, err)
		}
	}
	total := burstConns + len(waiting)
	st := e.Stats()
	if st.Total.Accepted != uint64(total) || st.Total.Open != total {
		t.Fatalf("accepted %d, open %d; want %d each: conns were lost", st.Total.Accepted, st.Total.Open, total)
	}
	t.Logf("conns per loop at the end: %d, %d, %d", st.Loops[0].Open, st.Loops[1].Open, st.Loops[2].Open)

	clients.finish(t)
	testutil.Eventually(t, 30*time.Second, func() bool { return e.Stats().Total.Open == len(waiting) },
		"conns still open after the clients closed: %+v", e.Stats().Total)
}
