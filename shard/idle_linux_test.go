//go:build linux

// Linux only: the clients live in a second process (see clients_linux_test.go).

package shard

import (
	"runtime"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// idleConns is as many conns as one process can serve here: the machine allows
// 20,000 fds per process, and the test binary keeps a few dozen of its own.
const idleConns = 19000

// idleHeapPerConn bounds the heap an idle conn may hold, in bytes: the
// benchmark's bound for memory per idle conn (benchmarks/RESULTS.md: ≤ 256 B of
// RSS at 10,000 conns). What an idle conn holds is its transport.Conn (112 B), its
// slot in the loop's target table (24 B) and the table's spare capacity, and an
// fd-index entry (4 B) in each loop; measured: 181 B (linux/amd64, Go 1.26, with
// and without -race). Any buffer kept per idle conn breaks the bound: the
// smallest pooled buffer (a read buffer kept for a conn's unread input, or a
// write queue) is 512 B.
const idleHeapPerConn = 256

// Row 15 of RELIABILITY.md: 19,000 echoed idle conns on an engine of two loops.
// The clients are in a subprocess (the fd limit is per process): one blocking raw
// socket each, all made by one goroutine, 64 in flight at a time. Every conn must
// echo its own 16-byte payload; once all are idle, the live heap they added
// (measured after two collections, before the clients connect and once every
// echo is written) must stay within idleHeapPerConn per conn, which a buffer kept
// per conn would break; once the clients close, the engine's open-conn count must
// return to 0.
func TestNineteenThousandIdleConnsHoldNoBuffers(t *testing.T) {
	if runAsClientProcess(t) {
		return
	}
	if testing.Short() {
		t.Skip("opens 19,000 conns")
	}
	start := time.Now()
	e, addr := startEcho(t, Options{Loops: 2})
	clients := startClientProcess(t, "TestNineteenThousandIdleConnsHoldNoBuffers", addr, idleConns, 1)
	clients.expect(t, "ready", 30*time.Second)
	before := liveHeap()

	clients.send(t, "go")
	echoed := clients.expect(t, "echoed", 2*time.Minute)
	// The child read every echo, so each conn's reply was written; what is left to
	// wait for is the loops' byte counters, which they publish once a round.
	testutil.Eventually(t, 10*time.Second, func() bool {
		st := e.Stats().Total
		return st.Open == idleConns && st.BytesOut == 16*idleConns
	}, "stats after the echoes: %+v", e.Stats().Total)
	after := liveHeap()
	st := e.Stats()

	perConn := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / idleConns
	inuse := float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / idleConns
	t.Logf("client process: %s; %d conns on loops %d and %d", echoed, st.Total.Open, st.Loops[0].Open, st.Loops[1].Open)
	t.Logf("heap per idle conn: %.0f B allocated, %.0f B in use (spans); bound %d B", perConn, inuse, idleHeapPerConn)
	if perConn > idleHeapPerConn {
		t.Errorf("%.0f B of live heap per idle conn, want at most %d B: an idle conn keeps a buffer, or grew", perConn, idleHeapPerConn)
	}
	for _, ls := range st.Loops {
		if ls.Open < idleConns/4 {
			t.Errorf("loop %d holds %d of %d conns: least-connections should spread them", ls.ID, ls.Open, idleConns)
		}
	}

	clients.finish(t)
	testutil.Eventually(t, 30*time.Second, func() bool { return e.Stats().Total.Open == 0 },
		"conns still open after the clients closed: %+v", e.Stats().Total)
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

// liveHeap returns the memory statistics after two full collections: the first
// frees the garbage, the second what sync.Pools held in their victim caches.
func liveHeap() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}
