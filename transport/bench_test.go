package transport_test

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/transport"
)

// benchMessageSize is the size of one echoed message.
const benchMessageSize = 64

// benchEchoServer starts an echo server on its own loop, torn down when b ends.
func benchEchoServer(b *testing.B) string {
	b.Helper()
	l := startLoop(b, logLoopErrors(b))
	ln := serve(b, l, "tcp", "127.0.0.1:0", echoHandler{}, transport.Config{NoDelay: true})
	return ln.Addr().String()
}

// dialNoDeadline is dial without the deadline, for a benchmark.
func dialNoDeadline(b *testing.B, addr string) net.Conn {
	b.Helper()
	c := dial(b, addr, 0)
	c.SetDeadline(time.Time{}) // a benchmark may run long; a stuck echo fails below
	return c
}

// pingPong sends msg and reads its echo into reply.
func pingPong(c net.Conn, msg, reply []byte) error {
	c.SetDeadline(time.Now().Add(waitFor))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	_, err := io.ReadFull(c, reply)
	return err
}

func reportMsgsPerSec(b *testing.B, msgs int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(msgs)/s, "msgs/s")
	}
}

// One client, one 64-byte message in flight.
func BenchmarkLoopEcho(b *testing.B) {
	c := dialNoDeadline(b, benchEchoServer(b))
	msg, reply := make([]byte, benchMessageSize), make([]byte, benchMessageSize)
	b.ReportAllocs()
	b.SetBytes(benchMessageSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := pingPong(c, msg, reply); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportMsgsPerSec(b, b.N)
}

// One client writes 16 messages, then reads the 16 replies.
func BenchmarkLoopEchoPipelined(b *testing.B) {
	const depth = 16
	c := dialNoDeadline(b, benchEchoServer(b))
	msg, replies := make([]byte, benchMessageSize), make([]byte, depth*benchMessageSize)
	b.ReportAllocs()
	b.SetBytes(depth * benchMessageSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.SetDeadline(time.Now().Add(waitFor))
		for j := 0; j < depth; j++ {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := io.ReadFull(c, replies); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportMsgsPerSec(b, depth*b.N)
}

// 16 clients (at least), each with one message in flight, on one loop.
func BenchmarkLoopEchoParallel(b *testing.B) {
	const clients = 16
	procs := runtime.GOMAXPROCS(0)
	perProc := (clients + procs - 1) / procs
	addr := benchEchoServer(b)
	conns := make(chan net.Conn, perProc*procs)
	for i := 0; i < perProc*procs; i++ {
		conns <- dialNoDeadline(b, addr)
	}
	b.ReportAllocs()
	b.SetBytes(benchMessageSize)
	b.SetParallelism(perProc)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := <-conns
		msg, reply := make([]byte, benchMessageSize), make([]byte, benchMessageSize)
		for pb.Next() {
			if err := pingPong(c, msg, reply); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportMsgsPerSec(b, b.N)
}
