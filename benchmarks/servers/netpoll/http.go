package main

import (
	"context"

	"github.com/cloudwego/netpoll"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/hello"
)

// responder holds the 200 response; set by main in -mode http. A published
// response is never written again, so netpoll may send it without copying.
var responder *hello.Responder

// serveHTTP answers every complete request buffered on conn, in order, with
// one Flush for the batch (so a pipelined burst costs one write). When a
// request is only partly buffered it flushes what it has, then blocks
// (netpoll's Reader waits for input) until the request may be complete;
// netpoll runs one serveHTTP per connection at a time, and calls it again
// while input remains.
func serveHTTP(_ context.Context, conn netpoll.Connection) error {
	r, w := conn.Reader(), conn.Writer()
	defer r.Release()
	for r.Len() > 0 {
		b, err := r.Peek(r.Len())
		if err != nil {
			return conn.Close()
		}
		batch := hello.Scan(b)
		response := responder.Response()
		for range batch.Requests {
			w.WriteBinary(response)
		}
		if err := r.Skip(batch.Used); err != nil {
			return conn.Close()
		}
		switch {
		case batch.Err != nil:
			w.WriteBinary(responder.Refusal(batch.Err))
			w.Flush()
			return conn.Close()
		case batch.Close:
			w.Flush()
			return conn.Close()
		case batch.Need > 0:
			// The next request is still on its way: send what is done first,
			// then block until it may be all in.
			if err := w.Flush(); err != nil {
				return conn.Close()
			}
			if _, err := r.Peek(batch.Need - batch.Used); err != nil {
				return conn.Close()
			}
		}
	}
	return w.Flush()
}
