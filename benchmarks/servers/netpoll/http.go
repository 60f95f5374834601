package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cloudwego/netpoll"
)

// Request limits. The benchmarks send bodiless GETs of about 40 bytes; these
// only keep a stray client from making the server buffer without bound.
const (
	maxHead = 8 << 10 // bytes up to and including the blank line
	maxBody = 1 << 20 // a Content-Length above this is refused with 413
)

// response holds the whole 200 response, rebuilt once a second for the Date
// header. A published slice is never written again, so netpoll may send it
// without copying.
var response atomic.Pointer[[]byte]

// startDateClock builds the first response and refreshes it every second.
func startDateClock() {
	build := func() {
		b := []byte("HTTP/1.1 200 OK\r\nServer: netpoll\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: " +
			time.Now().UTC().Format(http.TimeFormat) + "\r\n\r\nHello, World!")
		response.Store(&b)
	}
	build()
	go func() {
		for range time.Tick(time.Second) {
			build()
		}
	}()
}

// serveHTTP answers every complete request buffered on conn, in order, with
// one Flush for the batch (so a pipelined burst costs one write). When a
// request is only partly buffered it flushes what it has, then blocks
// (netpoll's Reader waits for input) until more bytes arrive; netpoll runs
// one serveHTTP per connection at a time, and calls it again while input
// remains.
func serveHTTP(_ context.Context, conn netpoll.Connection) error {
	r, w := conn.Reader(), conn.Writer()
	defer r.Release()
	for r.Len() > 0 {
		buffered := r.Len()
		b, err := r.Peek(min(buffered, maxHead))
		if err != nil {
			return conn.Close()
		}
		req, err := parseRequest(b)
		switch {
		case err != nil:
			return refuse(conn, err)
		case !req.complete:
			if buffered >= maxHead {
				return refuse(conn, errHeadTooLarge)
			}
			if err := w.Flush(); err != nil {
				return conn.Close()
			}
			// Block until at least one more byte is buffered.
			if _, err := r.Peek(buffered + 1); err != nil {
				return conn.Close()
			}
			continue
		}
		if req.size > buffered {
			// The body is still on its way: send what is done first.
			if err := w.Flush(); err != nil {
				return conn.Close()
			}
		}
		if err := r.Skip(req.size); err != nil { // blocks for the rest of the body
			return conn.Close()
		}
		w.WriteBinary(*response.Load())
		if req.close {
			w.Flush()
			return conn.Close()
		}
	}
	return w.Flush()
}

// request is what serveHTTP needs to know about one request.
type request struct {
	complete bool // the whole head is buffered
	size     int  // head plus body, in bytes
	close    bool // the connection ends after the response
}

// Errors that end a connection, each with the status sent before closing.
var (
	errBadRequest     = errors.New("malformed request")
	errHeadTooLarge   = errors.New("request head too large")
	errBodyTooLarge   = errors.New("request body too large")
	errNotImplemented = errors.New("transfer-encoding not supported")
)

var statusOf = map[error]int{
	errBadRequest:     http.StatusBadRequest,
	errHeadTooLarge:   http.StatusRequestHeaderFieldsTooLarge,
	errBodyTooLarge:   http.StatusRequestEntityTooLarge,
	errNotImplemented: http.StatusNotImplemented,
}

// refuse sends err's status with Connection: close and closes conn.
func refuse(conn netpoll.Connection, err error) error {
	code := statusOf[err]
	if code == 0 {
		code = http.StatusBadRequest
	}
	w := conn.Writer()
	w.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) +
		"\r\nServer: netpoll\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	w.Flush()
	return conn.Close()
}

// parseRequest reads the request at the start of b. It returns complete
// false if b does not yet hold the blank line ending the head. It checks
// the request line's shape and reads Content-Length, Transfer-Encoding and
// Connection; everything else is skipped.
func parseRequest(b []byte) (request, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return request{}, nil
	}
	lines := bytes.Split(b[:end], []byte("\r\n"))
	method, rest, ok1 := bytes.Cut(lines[0], []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || !bytes.HasPrefix(version, []byte("HTTP/1.")) {
		return request{}, errBadRequest
	}
	req := request{complete: true, size: end + 4}
	// HTTP/1.0 closes by default, HTTP/1.1 keeps alive by default.
	req.close = string(version) == "HTTP/1.0"
	body := 0
	for _, line := range lines[1:] {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return request{}, errBadRequest
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return request{}, errBadRequest
			}
			if n > maxBody {
				return request{}, errBodyTooLarge
			}
			body = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return request{}, errNotImplemented
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				req.close = true
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				req.close = false
			}
		}
	}
	req.size += body
	return req, nil
}
