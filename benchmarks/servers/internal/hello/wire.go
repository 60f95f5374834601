package hello

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Request limits. The benchmarks send bodiless GETs of about 40 bytes; these
// only keep a stray client from making a server buffer without bound.
const (
	MaxHead = 8 << 10 // bytes up to and including the blank line
	MaxBody = 1 << 20 // a Content-Length above this is refused with 413
)

// Responder holds a server's whole 200 response, rebuilt once a second for
// the Date header. A published slice is never written again, so a server may
// hand it to its event loop without copying.
type Responder struct {
	server   string
	response atomic.Pointer[[]byte]
}

// NewResponder builds the first response, naming server in the Server
// header, and refreshes it every second for as long as the process runs.
func NewResponder(server string) *Responder {
	r := &Responder{server: server}
	r.refresh(time.Now())
	go func() {
		for now := range time.Tick(time.Second) {
			r.refresh(now)
		}
	}()
	return r
}

func (r *Responder) refresh(now time.Time) {
	b := []byte("HTTP/1.1 200 OK\r\nServer: " + r.server + "\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(Body)) + "\r\nDate: " + now.UTC().Format(http.TimeFormat) + "\r\n\r\n" + string(Body))
	r.response.Store(&b)
}

// Response returns the current 200 response. The caller must not modify it.
func (r *Responder) Response() []byte { return *r.response.Load() }

// Refusal returns the response sent before closing a connection whose
// request failed with err (one of the errors Scan returns): err's status,
// no body, Connection: close.
func (r *Responder) Refusal(err error) []byte {
	code := statusOf[err]
	if code == 0 {
		code = http.StatusBadRequest
	}
	return []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) +
		"\r\nServer: " + r.server + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

// Errors that end a connection, each with the status Refusal sends.
var (
	ErrBadRequest     = errors.New("malformed request")
	ErrHeadTooLarge   = errors.New("request head too large")
	ErrBodyTooLarge   = errors.New("request body too large")
	ErrNotImplemented = errors.New("transfer-encoding not supported")
)

var statusOf = map[error]int{
	ErrBadRequest:     http.StatusBadRequest,
	ErrHeadTooLarge:   http.StatusRequestHeaderFieldsTooLarge,
	ErrBodyTooLarge:   http.StatusRequestEntityTooLarge,
	ErrNotImplemented: http.StatusNotImplemented,
}

// Batch is what Scan found at the start of a connection's buffered input.
type Batch struct {
	// Requests is how many complete requests (head and body) come first;
	// each gets one Response, in order.
	Requests int
	// Used is the bytes those requests take: the caller discards them.
	Used int
	// Close is set when the last of them ends the connection (Connection:
	// close, or HTTP/1.0 without keep-alive); nothing after it is read.
	Close bool
	// Err is set when the request after them cannot be served: answer the
	// complete ones, then send Refusal(Err) and close.
	Err error
	// Need, when the input ends in a partial request, is the buffered length
	// at which it may be complete (the whole request once its head is in, one
	// more byte before); 0 when the input ends on a request boundary.
	Need int
}

// Scan walks the complete requests at the start of b, the input buffered on
// one connection, and says how to answer them: a pipelined burst is one
// Batch, so that a server can answer it with one write. It stops at the
// first request that closes the connection, fails, or is not yet all in b.
func Scan(b []byte) Batch {
	var batch Batch
	for batch.Used < len(b) {
		rest := b[batch.Used:]
		req, err := ParseRequest(rest[:min(len(rest), MaxHead)])
		switch {
		case err != nil:
			batch.Err = err
			return batch
		case !req.Complete && len(rest) >= MaxHead:
			batch.Err = ErrHeadTooLarge
			return batch
		case !req.Complete:
			batch.Need = len(b) + 1
			return batch
		case req.Size > len(rest):
			batch.Need = batch.Used + req.Size
			return batch
		}
		batch.Requests++
		batch.Used += req.Size
		if req.Close {
			batch.Close = true
			return batch
		}
	}
	return batch
}

// Request is what a server needs to know about one request.
type Request struct {
	Complete bool // the whole head is in the input
	Size     int  // head plus body, in bytes
	Close    bool // the connection ends after the response
}

// ParseRequest reads the request at the start of b. It returns Complete
// false if b does not yet hold the blank line ending the head. It checks the
// request line's shape and reads Content-Length, Transfer-Encoding and
// Connection; everything else is skipped.
func ParseRequest(b []byte) (Request, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return Request{}, nil
	}
	lines := bytes.Split(b[:end], []byte("\r\n"))
	method, rest, ok1 := bytes.Cut(lines[0], []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || !bytes.HasPrefix(version, []byte("HTTP/1.")) {
		return Request{}, ErrBadRequest
	}
	req := Request{Complete: true, Size: end + 4}
	// HTTP/1.0 closes by default, HTTP/1.1 keeps alive by default.
	req.Close = string(version) == "HTTP/1.0"
	body := 0
	for _, line := range lines[1:] {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return Request{}, ErrBadRequest
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return Request{}, ErrBadRequest
			}
			if n > MaxBody {
				return Request{}, ErrBodyTooLarge
			}
			body = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return Request{}, ErrNotImplemented
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				req.Close = true
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				req.Close = false
			}
		}
	}
	req.Size += body
	return req, nil
}
