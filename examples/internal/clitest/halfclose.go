package clitest

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// SendHalfClosed writes input to a new conn to addr, shuts its writing side, and
// returns all the server sent until it closed. A server that does not close
// within wait fails the test. A reset counts as a close: a server that closes
// with bytes of the input unread resets the conn.
func SendHalfClosed(t testing.TB, addr string, input []byte, wait time.Duration) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := conn.Write(input); err != nil && !isReset(err) {
		t.Fatalf("write %d bytes: %v", len(input), err)
	}
	conn.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(conn)
	if err != nil && !isReset(err) {
		t.Fatalf("input %q: reading until the server closes: %v", input[:min(len(input), 80)], err)
	}
	return got
}

// isReset reports whether err is the peer's reset (or a write after it).
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
