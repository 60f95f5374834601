package transport_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

type echo struct{ transport.BaseHandler }

func (echo) OnData(c *transport.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

func TestSmokeEcho(t *testing.T) {
	l, err := loop.New(loop.Config{CPU: loop.NoPin})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Serve(l, echo{}, transport.Config{NoDelay: true}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- l.Run(context.Background()) }()
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := bytes.Repeat([]byte{byte(i)}, 1<<20)
			go c.Write(msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(got, msg) {
				t.Error("mismatch")
			}
		}(i)
	}
	wg.Wait()
	ln.Close()
	l.Stop()
	<-done
	l.Close()
}
