package main

import (
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// readToEnd reads conn until the proxy closes it, and returns what came. A
// reset counts as the end too: the proxy may close a conn whose client's
// bytes were not all read (a refused upstream), and the kernel then resets.
func readToEnd(t *testing.T, conn net.Conn) string {
	t.Helper()
	got, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("want EOF, got %v (after %q)", err, got)
	}
	return string(got)
}

// The client shuts its writing side; the upstream reads EOF, answers, and
// closes; the client reads the answer, then EOF.
func TestClientHalfClosePassesThrough(t *testing.T) {
	upstream := startUpstream(t, func(conn net.Conn) {
		got, err := io.ReadAll(conn)
		if err == nil {
			io.WriteString(conn, "got "+strconv.Itoa(len(got))+" bytes: "+string(got))
		}
		conn.Close()
	})
	_, e := startProxy(t, upstream)
	conn := dial(t, e)
	io.WriteString(conn, "hello, upstream")
	if err := conn.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	if got, want := readToEnd(t, conn), "got 15 bytes: hello, upstream"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// The upstream speaks first and shuts its writing side; the client reads that,
// then EOF, and may still send: its bytes reach the upstream, then its EOF.
func TestUpstreamHalfClosePassesThrough(t *testing.T) {
	heard := make(chan string, 1)
	upstream := startUpstream(t, func(conn net.Conn) {
		io.WriteString(conn, "banner")
		conn.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(conn)
		heard <- string(got)
		conn.Close()
	})
	_, e := startProxy(t, upstream)
	conn := dial(t, e)
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "banner" {
		t.Fatalf("got %q, %v; want \"banner\" then EOF", got, err)
	}
	io.WriteString(conn, "still talking")
	conn.CloseWrite()
	if got := testutil.Recv(t, heard, testWait, "the upstream to read to EOF"); got != "still talking" {
		t.Fatalf("the upstream heard %q, want \"still talking\"", got)
	}
}

// An upstream that refuses the connect gets the client conn closed, whether
// the client sent something first or not.
func TestRefusedUpstreamClosesClient(t *testing.T) {
	_, e := startProxy(t, refusedAddr(t))
	silent, talking := dial(t, e), dial(t, e)
	io.WriteString(talking, "anyone there?")
	for _, conn := range []net.Conn{silent, talking} {
		if got := readToEnd(t, conn); got != "" {
			t.Fatalf("got %q from a refused upstream", got)
		}
	}
	testutil.Eventually(t, testWait, func() bool { return e.Stats().Total.Open == 0 },
		"the proxy to close every conn (%d open)", e.Stats().Total.Open)
}

// An upstream that resets the connection gets the client conn closed, after
// what the upstream sent before.
func TestUpstreamResetClosesClient(t *testing.T) {
	upstream := startUpstream(t, func(conn net.Conn) {
		io.WriteString(conn, "last words")
		io.ReadFull(conn, make([]byte, 1)) // wait for the client's byte
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	})
	_, e := startProxy(t, upstream)
	conn := dial(t, e)
	io.WriteString(conn, "x")
	if got := readToEnd(t, conn); got != "last words" {
		t.Fatalf("got %q, want \"last words\"", got)
	}
}

// A client that resets the connection gets the upstream conn closed: the
// upstream, waiting to read, sees EOF rather than its deadline.
func TestClientResetClosesUpstream(t *testing.T) {
	readErr := make(chan error, 1)
	upstream := startUpstream(t, func(conn net.Conn) {
		io.WriteString(conn, "ready")
		_, err := io.ReadAll(conn)
		readErr <- err
	})
	_, e := startProxy(t, upstream)
	conn := dial(t, e)
	if _, err := io.ReadFull(conn, make([]byte, len("ready"))); err != nil {
		t.Fatalf("read: %v", err)
	}
	conn.SetLinger(0)
	conn.Close()
	if err := testutil.Recv(t, readErr, testWait, "the upstream to see the close"); err != nil {
		t.Fatalf("the upstream's read ended with %v, want EOF", err)
	}
}
