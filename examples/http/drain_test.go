package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// TestDrainingAnswersTheNextRequestWithConnectionClose: during a shutdown, a
// keep-alive conn between requests is not closed under its client; its next
// request is answered with "Connection: close" and then the conn ends. An idle
// keep-alive conn that sends nothing is closed once the deadline is within
// drainMargin, so the shutdown still ends before its deadline.
func TestDrainingAnswersTheNextRequestWithConnectionClose(t *testing.T) {
	e := sStart(t, "-drain", "5s")
	addr := e.Addrs()[0].String()
	active, idle := dial(t, addr), dial(t, addr)
	for _, cl := range []*client{active, idle} {
		cl.send("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := cl.read("GET"); resp.Close {
			t.Fatal("a response before the shutdown closed its conn")
		}
	}
	const drain = 2500 * time.Millisecond
	shut := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		shut <- e.Shutdown(ctx)
	}()
	testutil.Eventually(t, waitLimit, func() bool { _, ok := e.Draining(); return ok }, "the engine never began draining")
	time.Sleep(200 * time.Millisecond) // longer than the engine takes to close conns it finds idle
	active.send("GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := active.read("GET")
	if resp.StatusCode != 200 || !resp.Close || body != `{"message":"Hello, World!"}` {
		t.Fatalf("request during the drain: %d, Connection: close %v, %q", resp.StatusCode, resp.Close, body)
	}
	if n, err := active.r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the Connection: close response the conn read %d, %v; want EOF", n, err)
	}
	if n, err := idle.r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the idle keep-alive conn read %d, %v; want EOF", n, err)
	}
	if d := time.Since(start); d < drain-drainMargin-500*time.Millisecond {
		t.Fatalf("the idle conn was closed %v into a %v drain: before the margin", d, drain)
	}
	if err := testutil.Recv(t, shut, waitLimit, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v (the idle conn should have been closed before the deadline)", err)
	}
}
