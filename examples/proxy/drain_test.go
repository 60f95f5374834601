package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// A graceful shutdown must not cut a proxied pair that merely looks idle (the
// client waits for the upstream's answer): the pair ends when one side does.
func TestShutdownWaitsForOpenPairs(t *testing.T) {
	// Copy through plain Reader and Writer: io.Copy between two TCP conns
	// would splice(2) through a cached pipe, which the fd check sees as a leak.
	upstream := startUpstream(t, func(c net.Conn) {
		io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
		c.Close()
	})
	_, e := startProxy(t, upstream)
	client := dial(t, e)
	echoThrough(t, client, "before")

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		shut <- e.Shutdown(ctx)
	}()
	testutil.Eventually(t, testWait, func() bool {
		c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, "the proxy still accepts after Shutdown began")
	// The pair survives the drain passes and still carries bytes.
	echoThrough(t, client, "during shutdown")
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a pair open", err)
	default:
	}
	client.Close()
	if err := testutil.Recv(t, shut, testWait, "Shutdown after the pair ended"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func echoThrough(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("through the proxy: %q, %v; want %q", got, err, msg)
	}
}
