// Command storm measures what a publisher that outruns its readers costs the
// server: one goroutine AsyncWrites -size byte messages to -conns conns whose
// clients never read, for -d, on a two-loop engine with HighWater 256 KiB and
// MaxQueued -limit (0: none). It prints the writes accepted and refused, how far
// the heap rose above where it started (sampled every 5 ms), and how long
// Engine.Close then took to fail what was still queued.
//
//	go run ./cmd/storm -limit 0          # unbounded: the heap follows the publisher
//	go run ./cmd/storm -limit 1048576    # bounded: 1 MiB a conn
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// opener hands each opened conn to the publisher.
type opener struct {
	transport.BaseHandler
	opened chan *transport.Conn
}

func (o opener) OnOpen(c *transport.Conn) { o.opened <- c }

func main() {
	limit := flag.Int("limit", 0, "Config.MaxQueued in bytes (0: no limit)")
	d := flag.Duration("d", 1600*time.Millisecond, "how long the publisher writes")
	n := flag.Int("conns", 100, "conns whose clients never read")
	size := flag.Int("size", 1024, "bytes per message")
	profile := flag.String("closeprofile", "", "write a CPU profile of Engine.Close to this file")
	flag.Parse()
	if err := run(*limit, *d, *n, *size, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(1)
	}
}

func run(limit int, d time.Duration, n, size int, profile string) error {
	h := opener{opened: make(chan *transport.Conn, n)}
	e, err := shard.New(shard.Options{Loops: 2, Logger: slog.New(slog.DiscardHandler),
		Conn: transport.Config{HighWater: 256 << 10, MaxQueued: limit}})
	if err != nil {
		return err
	}
	if _, err := e.Listen("tcp", "127.0.0.1:0", h); err != nil {
		e.Close()
		return err
	}
	if err := e.Start(); err != nil {
		return err
	}
	conns := make([]*transport.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", e.Addrs()[0].String())
		if err != nil {
			e.Close()
			return err
		}
		defer c.Close() // never read
		select {
		case sc := <-h.opened:
			conns = append(conns, sc)
		case <-time.After(10 * time.Second):
			e.Close()
			return fmt.Errorf("conn %d was not opened", len(conns))
		}
	}
	rise, stop := sampleHeap()
	msg := make([]byte, size)
	var accepted, refused, callbacks atomic.Int64
	done := func(error) { callbacks.Inc() }
	for start := time.Now(); time.Since(start) < d; {
		for _, c := range conns {
			if c.AsyncWrite(msg, done) == nil {
				accepted.Inc()
			} else {
				refused.Inc()
			}
		}
	}
	stop()
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
	}
	began := time.Now()
	e.Close()
	closeTook := time.Since(began)
	pprof.StopCPUProfile()
	fmt.Printf("MaxQueued %d, %d conns, %d-byte writes for %v: %d accepted, %d refused; heap rose %d MiB; Engine.Close took %v; %d callbacks ran\n",
		limit, n, size, d, accepted.Load(), refused.Load(), rise()>>20, closeTook.Round(time.Millisecond), callbacks.Load())
	return nil
}

// sampleHeap samples the heap every 5 ms until stop; rise then returns how far
// it went above where it started.
func sampleHeap() (rise func() int64, stop func()) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := int64(m.HeapAlloc)
	var top atomic.Int64
	top.Store(base)
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if v := int64(m.HeapAlloc); v > top.Load() {
				top.Store(v)
			}
			select {
			case <-quit:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() int64 { return top.Load() - base }, func() { close(quit); <-exited }
}
