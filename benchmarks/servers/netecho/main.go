// Command netecho is the plain Go echo server for the load benchmarks: the
// standard library's net package, one goroutine per connection, each
// echoing what it reads.
//
// With -tls-cert and -tls-key it speaks TLS (crypto/tls, tls.NewListener) and
// echoes the plaintext: each conn's goroutine does its handshake on its first
// read, and the conn holds crypto/tls's buffers besides its own.
//
// Usage:
//
//	netecho -addr 127.0.0.1:7000 [-tls-cert cert.pem -tls-key key.pem]
package main

import (
	"context"
	"crypto/tls"
	"log"
	"net"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

// bufSize is the read buffer each connection owns, for as long as it is open.
//
// It is 4 KiB, the size of bufio's default buffer and of one page, because
// this server is the "what a careful Go programmer writes" baseline for the
// memory-per-idle-connection comparison: io.Copy's own 32 KiB buffer would
// make every idle connection cost eight times more and flatter the event-loop
// servers. The copy is a plain read/write loop, not io.CopyBuffer: on Linux
// *net.TCPConn implements io.ReaderFrom with splice(2), so io.CopyBuffer
// would ignore the buffer and hold a pipe (two more fds) per connection.
const bufSize = 4 << 10

func main() {
	files := peer.RegisterTLS()
	addr := peer.Addr("netecho")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("netecho: %v", err)
	}
	if files.On("netecho", true) {
		ln = tls.NewListener(ln, files.Config("netecho"))
	}
	var conns sync.Map // net.Conn -> struct{}, closed on shutdown
	go func() {
		<-ctx.Done()
		ln.Close()
		conns.Range(func(c, _ any) bool {
			c.(net.Conn).Close()
			return true
		})
	}()
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break // closed by the signal
			}
			// EMFILE and the like: back off instead of spinning, as
			// net/http's Server does.
			log.Printf("netecho: accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		conns.Store(c, struct{}{})
		if ctx.Err() != nil {
			c.Close() // accepted after the shutdown walk
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conns.Delete(c)
			echo(c)
		}()
	}
	wg.Wait()
}

// echo writes back everything it reads from c until c fails or closes.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, bufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
