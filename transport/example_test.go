package transport_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// echoHandler writes back every byte it reads. Its writes are flushed, with one
// syscall, when OnData returns.
type echoHandler struct{ transport.BaseHandler }

func (echoHandler) OnData(c *transport.Conn) {
	b, _ := c.Next(-1) // everything buffered; valid until OnData returns
	c.Write(b)         // queued (copied); flushed when OnData returns
}

// A one-loop echo server and a client that talks to it.
func Example_echoServer() {
	l, err := loop.New(loop.Config{CPU: loop.NoPin})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		log.Fatal(err)
	}
	if err := ln.Serve(l, echoHandler{}, transport.Config{NoDelay: true}); err != nil {
		log.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- l.Run(context.Background()) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hello"))
	reply := make([]byte, len("hello"))
	if _, err := io.ReadFull(c, reply); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
	c.Close()

	ln.Close() // stop accepting
	l.Stop()   // make Run return
	<-ran
	l.Close() // close the conns still open and the poller
	// Output: hello
}
