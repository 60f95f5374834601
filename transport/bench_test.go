package transport_test

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// aBenchMessage is the size of one echoed message.
const aBenchMessage = 64

// aBenchServer starts an echo server on its own loop, torn down when b ends.
func aBenchServer(b *testing.B) string {
	b.Helper()
	l := aStartLoop(b, loop.Config{})
	ln := aServe(b, l, aEcho{}, transport.Config{NoDelay: true})
	return ln.Addr().String()
}

func aBenchDial(b *testing.B, addr string) net.Conn {
	b.Helper()
	c := aDial(b, addr)
	c.SetDeadline(time.Time{}) // a benchmark may run long; a stuck echo fails below
	return c
}

// aPingPong sends msg and reads its echo into reply.
func aPingPong(c net.Conn, msg, reply []byte) error {
	c.SetDeadline(time.Now().Add(aWait))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	_, err := io.ReadFull(c, reply)
	return err
}

func aReportMsgs(b *testing.B, msgs int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(msgs)/s, "msgs/s")
	}
}

// One client, one 64-byte message in flight.
func BenchmarkLoopEcho(b *testing.B) {
	c := aBenchDial(b, aBenchServer(b))
	msg, reply := make([]byte, aBenchMessage), make([]byte, aBenchMessage)
	b.ReportAllocs()
	b.SetBytes(aBenchMessage)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := aPingPong(c, msg, reply); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	aReportMsgs(b, b.N)
}

// One client writes 16 messages, then reads the 16 replies.
func BenchmarkLoopEchoPipelined(b *testing.B) {
	const depth = 16
	c := aBenchDial(b, aBenchServer(b))
	msg, replies := make([]byte, aBenchMessage), make([]byte, depth*aBenchMessage)
	b.ReportAllocs()
	b.SetBytes(depth * aBenchMessage)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.SetDeadline(time.Now().Add(aWait))
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
	aReportMsgs(b, depth*b.N)
}

// 16 clients (at least), each with one message in flight, on one loop.
func BenchmarkLoopEchoParallel(b *testing.B) {
	const clients = 16
	procs := runtime.GOMAXPROCS(0)
	perProc := (clients + procs - 1) / procs
	addr := aBenchServer(b)
	conns := make(chan net.Conn, perProc*procs)
	for i := 0; i < perProc*procs; i++ {
		conns <- aBenchDial(b, addr)
	}
	b.ReportAllocs()
	b.SetBytes(aBenchMessage)
	b.SetParallelism(perProc)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := <-conns
		msg, reply := make([]byte, aBenchMessage), make([]byte, aBenchMessage)
		for pb.Next() {
			if err := aPingPong(c, msg, reply); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	aReportMsgs(b, b.N)
}
