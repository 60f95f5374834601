//go:build linux

package transport_test

import (
	"io"
	"testing"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// Writing one 64-byte message to 1,000 conns spread over two loops, from a
// goroutine of neither: an AsyncWrite per conn (a task and a callback each)
// against one task per loop that writes the message to that loop's conns (what
// examples/redis's PUBLISH does, and README "Broadcasting" shows). The peers
// read everything; both ways pay the same for them.
func BenchmarkFanout(b *testing.B) {
	const perLoop = 500
	msg := make([]byte, 64)
	var loops [2]*loop.Loop
	var conns [2][]*transport.Conn
	for i := range loops {
		loops[i] = startLoop(b, logLoopErrors(b))
		for range perLoop {
			c, peer := adoptedSocketpair(b, loops[i], transport.BaseHandler{}, transport.Config{})
			go io.Copy(io.Discard, peer)
			conns[i] = append(conns[i], c)
		}
	}
	settle := func() { // every task submitted so far has run
		for _, l := range loops {
			onLoop(b, l, func() {})
		}
	}
	b.Run("AsyncWrite-per-conn", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			for _, cs := range conns {
				for _, c := range cs {
					c.AsyncWrite(msg, nil)
				}
			}
			if i%64 == 63 {
				settle()
			}
		}
		settle()
		b.ReportMetric(float64(b.N*2*perLoop)/b.Elapsed().Seconds(), "writes/s")
	})
	b.Run("task-per-loop", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			for k, l := range loops {
				cs := conns[k]
				l.Submit(func() {
					for _, c := range cs {
						c.Write(msg)
					}
				})
			}
			if i%64 == 63 {
				settle()
			}
		}
		settle()
		b.ReportMetric(float64(b.N*2*perLoop)/b.Elapsed().Seconds(), "writes/s")
	})
	for i, l := range loops {
		onLoop(b, l, func() {
			for _, c := range conns[i] {
				c.Abort()
			}
		})
	}
}
