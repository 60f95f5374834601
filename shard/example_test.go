package shard_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// upper answers every byte in upper case.
type upper struct{ transport.BaseHandler }

func (upper) OnData(c *transport.Conn) {
	b, _ := c.Next(-1)
	for i, ch := range b {
		if 'a' <= ch && ch <= 'z' {
			b[i] = ch - 'a' + 'A'
		}
	}
	c.Write(b)
}

func Example() {
	e, err := shard.New(shard.Options{Loops: 2, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	addr, err := e.Listen("tcp", "127.0.0.1:0", upper{})
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}

	c, _ := net.Dial("tcp", addr.String())
	c.Write([]byte("hello, sycamore"))
	reply := make([]byte, 15)
	io.ReadFull(c, reply)
	fmt.Println(string(reply))

	// Shutdown closes the idle conn, so the client reads EOF.
	e.Shutdown(context.Background())
	_, err = c.Read(reply)
	fmt.Println(err)
	c.Close()
	// Output:
	// HELLO, SYCAMORE
	// EOF
}

// An offloaded work runs on the worker pool; its result comes back to the conn's
// loop, in order.
func ExampleEngine_Offload() {
	e, _ := shard.New(shard.Options{Loops: 1, Workers: 4, Logger: slog.New(slog.DiscardHandler)})
	h := &slowHash{e: e}
	addr, _ := e.Listen("tcp", "127.0.0.1:0", h)
	e.Start()
	defer e.Close()

	c, _ := net.Dial("tcp", addr.String())
	defer c.Close()
	c.Write([]byte("abc"))
	reply := make([]byte, 4)
	io.ReadFull(c, reply)
	fmt.Printf("%q\n", reply)
	// Output: "294\n"
}

// slowHash sums the bytes it gets on the worker pool, as if that were slow.
type slowHash struct {
	transport.BaseHandler
	e *shard.Engine
}

func (h *slowHash) OnData(c *transport.Conn) {
	in, _ := c.Peek(-1)
	data := string(in)
	err := h.e.Offload(c, func() any {
		sum := 0
		for _, b := range []byte(data) {
			sum += int(b)
		}
		return sum
	}, func(c *transport.Conn, result any) {
		fmt.Fprintf(connWriter{c}, "%d\n", result)
	})
	if err == nil {
		c.Discard(-1)
	}
}

// connWriter lets fmt write to a conn (on its loop).
type connWriter struct{ c *transport.Conn }

func (w connWriter) Write(p []byte) (int, error) { return w.c.Write(p) }
