package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// TestMain fails the run on leaked goroutines or fds.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// testWait bounds every wait on the network. It is generous because the race
// detector on two cores is slow; a passing test never waits this long.
const testWait = 10 * time.Second

// startServer serves h on loops event loops, each with a listener of its own on
// a port of its own (as shard does with ReusePort, but on distinct ports so a
// test can pick the loop), and returns the addresses in loop order. Everything
// is stopped and closed when the test ends.
func startServer(t testing.TB, loops int, h transport.Handler) []string {
	t.Helper()
	addrs := make([]string, loops)
	for i := range addrs {
		addrs[i] = startLoop(t, i, h)
	}
	return addrs
}

// startLoop starts one loop serving h on a fresh loopback port. Any error the
// loop reports (a handler panic above all) fails the test.
func startLoop(t testing.TB, id int, h transport.Handler) string {
	t.Helper()
	l, err := loop.New(loop.Config{ID: id, CPU: loop.NoPin, OnError: func(tg loop.Target, err error) {
		t.Errorf("loop %d: OnError(%T, %v)", id, tg, err)
	}})
	if err != nil {
		t.Fatalf("loop.New: %v", err)
	}
	ln, err := transport.Listen("tcp", "127.0.0.1:0", transport.ListenConfig{ReuseAddr: true})
	if err != nil {
		l.Close()
		t.Fatalf("Listen: %v", err)
	}
	if err := ln.Serve(l, h, transport.Config{NoDelay: true}); err != nil {
		ln.Close()
		l.Close()
		t.Fatalf("Serve: %v", err)
	}
	ran := make(chan error, 1)
	go func() { ran <- l.Run(context.Background()) }()
	t.Cleanup(func() {
		l.Stop()
		if err := testutil.Recv(t, ran, testWait, "loop Run to return after Stop"); err != nil {
			t.Errorf("loop %d Run: %v", id, err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("loop %d Close: %v", id, err)
		}
	})
	return ln.Addr().String()
}

// startRedis serves one fresh server on one loop and returns it and its address.
func startRedis(t testing.TB) (*server, string) {
	t.Helper()
	srv := newServer(newKeyspace(defaultStripes), defaultPubsubLimit)
	return srv, startServer(t, 1, srv)[0]
}

// client is a raw RESP client: it writes bytes as given and reads replies as
// exact byte strings, so the tests check the wire format itself.
type client struct {
	t    testing.TB
	conn net.Conn
}

// dial connects to addr with a deadline of testWait on every read and write;
// the conn is closed when the test ends.
func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, testWait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(testWait))
	return &client{t: t, conn: conn}
}

// send writes raw bytes.
func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, raw); err != nil {
		c.t.Fatalf("write %q: %v", clip(raw), err)
	}
}

// expect reads exactly len(want) bytes and compares them with want.
func (c *client) expect(want string) {
	c.t.Helper()
	got := make([]byte, len(want))
	n, err := io.ReadFull(c.conn, got)
	if err != nil {
		c.t.Fatalf("reading reply %q: got %q, then %v", clip(want), clip(string(got[:n])), err)
	}
	if string(got) != want {
		c.t.Fatalf("reply: got %q, want %q", clip(string(got)), clip(want))
	}
}

// do sends a request and expects the reply.
func (c *client) do(request, reply string) {
	c.t.Helper()
	c.send(request)
	c.expect(reply)
}

// expectClosed reads and wants the server's orderly close (EOF), with no bytes
// before it.
func (c *client) expectClosed() {
	c.t.Helper()
	var b [64]byte
	n, err := c.conn.Read(b[:])
	if n > 0 || !errors.Is(err, io.EOF) {
		c.t.Fatalf("want EOF from the server, got %q and %v", b[:n], err)
	}
}

// mb encodes args as a multibulk request, as redis-cli sends it.
func mb(args ...string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

// bulk encodes a bulk string reply.
func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// integer encodes an integer reply.
func integer(n int) string { return ":" + strconv.Itoa(n) + "\r\n" }

// clip shortens long strings in failure messages.
func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	return s[:200] + "...(" + strconv.Itoa(len(s)) + " bytes)"
}

// argsString shows parsed arguments in failure messages.
func argsString(args [][]byte) string {
	return string(bytes.Join(args, []byte("|")))
}
