package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// waitLimit bounds every wait in these tests. It is generous because the race
// detector on a small machine is slow; a passing test never waits this long.
const waitLimit = 10 * time.Second

// testServer is a server running on its own loops, each with a listener of its
// own, so a test can choose the loop a conn lands on by the address it dials.
type testServer struct {
	srv   *server
	loops []*loop.Loop
	addrs []string // addrs[i] is served by loops[i]
}

// startServer starts a server on n loops (IDs 0..n-1), as shard would, but
// without it. When the test ends the listeners close, then the loops stop and
// close, and the cleanup waits (bounded) for each Run to return. A loop error (a
// handler panic included) fails the test.
func startServer(t testing.TB, n int) *testServer {
	t.Helper()
	ts := &testServer{}
	for id := range n {
		l, err := loop.New(loop.Config{ID: id, CPU: loop.NoPin, OnError: func(tg loop.Target, err error) {
			t.Errorf("loop %d: OnError(%T, %v)", id, tg, err)
		}})
		if err != nil {
			t.Fatalf("loop.New: %v", err)
		}
		ts.loops = append(ts.loops, l)
	}
	t.Cleanup(func() { closeLoops(t, ts.loops) })
	ts.srv = newServer(ts.loops, defaultTimeouts)
	for _, l := range ts.loops {
		ln, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{ReuseAddr: true})
		if err != nil {
			t.Fatalf("Listen: %v", err)
		}
		t.Cleanup(func() { ln.Close() })
		if err := ln.Serve(l, ts.srv, transport.Config{NoDelay: true}); err != nil {
			t.Fatalf("Serve: %v", err)
		}
		ts.addrs = append(ts.addrs, ln.Addr().String())
	}
	runLoops(t, ts.loops)
	return ts
}

// runLoops starts `go l.Run` for each loop; the cleanup waits for each to return.
func runLoops(t testing.TB, loops []*loop.Loop) {
	for _, l := range loops {
		ran := make(chan error, 1)
		go func() { ran <- l.Run(context.Background()) }()
		t.Cleanup(func() {
			l.Stop()
			if err := testutil.Recv(t, ran, waitLimit, "loop Run to return"); err != nil {
				t.Errorf("loop Run: %v", err)
			}
		})
	}
}

// closeLoops closes the loops; it runs after runLoops' cleanups (cleanups run
// last-registered first), so every Run has returned.
func closeLoops(t testing.TB, loops []*loop.Loop) {
	for _, l := range loops {
		if err := l.Close(); err != nil && !errors.Is(err, loop.ErrClosed) {
			t.Errorf("loop Close: %v", err)
		}
	}
}

// client is one conn to the server with a deadline on everything, and a reader
// that parses its responses.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// dial connects to addr; the conn is closed when the test ends.
func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(waitLimit))
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// send writes raw bytes as one write.
func (cl *client) send(raw string) {
	cl.t.Helper()
	if _, err := io.WriteString(cl.conn, raw); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
}

// read parses one response to a request with method, and returns it with its
// body read in full.
func (cl *client) read(method string) (*http.Response, string) {
	cl.t.Helper()
	resp, err := http.ReadResponse(cl.r, &http.Request{Method: method})
	if err != nil {
		cl.t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		cl.t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// roundTrip sends raw and reads the response to it.
func (cl *client) roundTrip(method, raw string) (*http.Response, string) {
	cl.t.Helper()
	cl.send(raw)
	return cl.read(method)
}

// expectEOF checks that the server closed the conn (at least its write side)
// and sent nothing more.
func (cl *client) expectEOF() {
	cl.t.Helper()
	extra, err := io.ReadAll(cl.r)
	if err != nil {
		cl.t.Fatalf("after the response: want EOF, got %v", err)
	}
	if len(extra) > 0 {
		cl.t.Fatalf("after the response: want EOF, got %q", extra)
	}
}

// get is a minimal HTTP/1.1 request for path.
func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n"
}

// checkResponse checks the status, the body and the fields every response
// carries: Server, a valid Date, and (except for HEAD) a Content-Length that
// matches the body.
func checkResponse(t testing.TB, resp *http.Response, body string, wantStatus int, wantBody string) {
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Errorf("status %d, want %d", resp.StatusCode, wantStatus)
	}
	if resp.Proto != "HTTP/1.1" {
		t.Errorf("version %s, want HTTP/1.1", resp.Proto)
	}
	if body != wantBody {
		t.Errorf("body %q, want %q", body, wantBody)
	}
	if got := resp.Header.Get("Server"); got != "sycamore" {
		t.Errorf("Server %q, want sycamore", got)
	}
	if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil {
		t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	if resp.Request.Method == http.MethodHead {
		return // the caller checks the Content-Length of the body left out
	}
	if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(len(wantBody)) {
		t.Errorf("Content-Length %q, want %d", got, len(wantBody))
	}
}
