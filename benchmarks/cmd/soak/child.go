package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

// The parent runs each client as a copy of its own executable with the
// client's config, as JSON, in this environment variable. It talks to the
// client over the client's stdin and stdout, one line per message:
//
//	parent → client: "stats N"  client answers with one stats line, Seq N
//	                 "churn"    start replacing conns
//	                 "stop"     finish every round trip, close every conn,
//	                            answer with a final stats line and exit
//
// End of stdin counts as "stop". Stats lines are JSON, one object per line.
const clientEnv = "SOAK_CLIENT"

// Fd and shutdown bounds shared by parent and client.
const (
	// fdReserve is how many fds a process needs beside its conns: the Go
	// runtime's epoll and eventfd, stdio, pipes, /proc reads.
	fdReserve = 64
	// clientDrain bounds a client's shutdown: one round trip may still be
	// waiting out its 10 s timeout, and then the server's FIN its own.
	clientDrain = roundTripTimeout + closeTimeout + 5*time.Second
)

// stats is one report line of a client, and also the sum over clients. The
// counters are running totals since the client started.
type stats struct {
	Seq              int      `json:"seq"`             // the "stats N" it answers; -1 on the final line
	Final            bool     `json:"final,omitempty"` // the last line, after every conn closed
	Open             int64    `json:"open"`            // conns open now, in conversation
	Dialing          int64    `json:"dialing"`         // slots dialling a conn now (or waiting to)
	Closing          int64    `json:"closing"`         // conns closed by us, awaiting the server's FIN
	Opened           int64    `json:"opened"`          // conns ever opened
	Churned          int64    `json:"churned"`         // conns closed by churn
	ChurnRequested   int64    `json:"churn_requested"` // churn requests taken by a slot
	MsgsSent         int64    `json:"msgs_sent"`
	MsgsVerified     int64    `json:"msgs_verified"`
	BytesSent        int64    `json:"bytes_sent"`
	BytesVerified    int64    `json:"bytes_verified"`
	Mismatches       int64    `json:"mismatches"`        // wrong or surplus bytes
	UnexpectedCloses int64    `json:"unexpected_closes"` // EOF, reset or broken pipe on a conn not asked to close
	Timeouts         int64    `json:"timeouts"`          // echoes that did not come back within 10 s
	CloseTimeouts    int64    `json:"close_timeouts"`    // conns the server did not close within 10 s of our FIN
	IOErrors         int64    `json:"io_errors"`         // any other read or write failure
	ConnectErrors    int64    `json:"connect_errors"`
	Unfinished       int64    `json:"unfinished"`        // conns still open when shutdown gave up (final line only)
	CloseWaits       int64    `json:"close_waits"`       // server FINs awaited after ours
	CloseWaitNs      int64    `json:"close_wait_ns"`     // their total wait
	CloseWaitMaxNs   int64    `json:"close_wait_max_ns"` // the longest; in a sum, the longest of all
	Goroutines       int64    `json:"goroutines"`        // the most seen so far; in a sum, the most in any one client
	RSS              int64    `json:"rss_bytes"`         // the client's VmRSS; in a sum, the largest
	Notes            []string `json:"notes,omitempty"`
}

// add sums o into s.
func (s *stats) add(o stats) {
	s.Open += o.Open
	s.Dialing += o.Dialing
	s.Closing += o.Closing
	s.Opened += o.Opened
	s.Churned += o.Churned
	s.ChurnRequested += o.ChurnRequested
	s.MsgsSent += o.MsgsSent
	s.MsgsVerified += o.MsgsVerified
	s.BytesSent += o.BytesSent
	s.BytesVerified += o.BytesVerified
	s.Mismatches += o.Mismatches
	s.UnexpectedCloses += o.UnexpectedCloses
	s.Timeouts += o.Timeouts
	s.CloseTimeouts += o.CloseTimeouts
	s.IOErrors += o.IOErrors
	s.ConnectErrors += o.ConnectErrors
	s.Unfinished += o.Unfinished
	s.CloseWaits += o.CloseWaits
	s.CloseWaitNs += o.CloseWaitNs
	s.CloseWaitMaxNs = max(s.CloseWaitMaxNs, o.CloseWaitMaxNs)
	s.Goroutines = max(s.Goroutines, o.Goroutines)
	s.RSS = max(s.RSS, o.RSS)
	s.Notes = append(s.Notes, o.Notes...)
}

// failures is the number of conn failures of any kind but mismatches.
func (s stats) failures() int64 {
	return s.UnexpectedCloses + s.Timeouts + s.CloseTimeouts + s.IOErrors
}

// snapshot reads the client's counters.
func (cl *client) snapshot(seq int) stats {
	n := &cl.n
	if g := int64(runtime.NumGoroutine()); g > n.maxGoroutines.Load() {
		n.maxGoroutines.Store(g) // a racy max: close enough for a report
	}
	s := stats{
		Seq: seq, Open: n.open.Load(), Dialing: n.dialing.Load(), Closing: n.closing.Load(), Opened: n.opened.Load(), Churned: n.churned.Load(),
		ChurnRequested: n.churnRequested.Load(),
		MsgsSent:       n.msgsSent.Load(), MsgsVerified: n.msgsVerified.Load(),
		BytesSent: n.bytesSent.Load(), BytesVerified: n.bytesVerified.Load(),
		Mismatches: n.mismatches.Load(), UnexpectedCloses: n.unexpectedCloses.Load(),
		Timeouts: n.timeouts.Load(), CloseTimeouts: n.closeTimeouts.Load(), IOErrors: n.ioErrors.Load(), ConnectErrors: n.connectErrors.Load(),
		CloseWaits: n.closeWaits.Load(), CloseWaitNs: n.closeWaitNs.Load(), CloseWaitMaxNs: n.closeWaitMaxNs.Load(),
		Goroutines: n.maxGoroutines.Load(), RSS: selfRSS(),
	}
	cl.notesMu.Lock()
	s.Notes = append([]string(nil), cl.notes...)
	cl.notesMu.Unlock()
	return s
}

// clientMain is a client process's main; it returns the exit status.
func clientMain(config string) int {
	var cfg clientConfig
	if err := json.Unmarshal([]byte(config), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "soak client: %s: %v\n", clientEnv, err)
		return 2
	}
	// The parent kills its clients at its own deadline; this covers a parent
	// that died without closing our stdin.
	time.AfterFunc(time.Until(cfg.Deadline), func() {
		fmt.Fprintf(os.Stderr, "soak client %d: deadline passed; exiting\n", cfg.Index)
		os.Exit(3)
	})
	limit, err := harness.RaiseNoFile()
	if err != nil || limit < uint64(cfg.Conns+fdReserve) {
		fmt.Fprintf(os.Stderr, "soak client %d: RLIMIT_NOFILE %d (%v): want %d conns + %d\n", cfg.Index, limit, err, cfg.Conns, fdReserve)
		return 2
	}
	cl := newClient(cfg)
	cl.start()
	serveCommands(cl, os.Stdin, os.Stdout)
	return 0
}

// serveCommands answers the parent's commands on r with lines on w until
// "stop" or the end of r, then shuts cl down and writes the final line. It
// keeps answering "stats" while the conns drain.
func serveCommands(cl *client, r io.Reader, w io.Writer) {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	emit := func(s stats) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(s) // a failed write means the parent is gone; the deadline ends us
	}
	stopped := make(chan struct{})
	var stopOnce, churnOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(stopped) }) }
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "stats":
				seq, _ := strconv.Atoi(f[1])
				emit(cl.snapshot(seq))
			case len(f) == 1 && f[0] == "churn":
				select {
				case <-stopped: // too late: never start churn during shutdown
				default:
					churnOnce.Do(cl.startChurn)
				}
			case len(f) == 1 && f[0] == "stop":
				stop()
			}
		}
		stop()
	}()
	<-stopped
	unfinished := cl.shutdown(clientDrain)
	final := cl.snapshot(-1)
	final.Final, final.Unfinished = true, int64(unfinished)
	emit(final)
}

// selfRSS is this process's VmRSS in bytes, 0 if unreadable.
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return statusField(b, "VmRSS:") << 10
}

// statusField returns the first number after key in a /proc status or limits
// file's text, 0 when absent.
func statusField(b []byte, key string) int64 {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(key)); ok {
			if f := bytes.Fields(rest); len(f) > 0 {
				v, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return v
			}
		}
	}
	return 0
}
