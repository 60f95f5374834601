package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sycamore-go/sycamore/examples/internal/clitest"
)

// maxPayload is the largest payload one client of TestEchoManyClientsGetEveryByte
// sends: 256 KiB, several times the loop's 64 KiB read buffer, so payloads come
// back in many pieces, and larger than loopback's default socket buffers.
const maxPayload = 256 << 10

// echoPayload sends payload on conn from one goroutine while it reads the echo
// on this one, and returns an error unless exactly payload came back. Writing
// and reading at once keeps a large payload from filling both directions'
// buffers and stalling.
func echoPayload(conn net.Conn, payload []byte) error {
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(payload)
		wrote <- err
	}()
	got := make([]byte, len(payload))
	_, readErr := io.ReadFull(conn, got)
	if err := <-wrote; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if readErr != nil {
		return fmt.Errorf("read: %w", readErr)
	}
	if !bytes.Equal(got, payload) {
		return fmt.Errorf("echo differs from the %d bytes sent at byte %d", len(payload), firstDiff(got, payload))
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// randomPayload returns 1 to maxPayload random bytes from a seeded generator, so
// a failure can be replayed.
func randomPayload(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5ca1ab1e))
	p := make([]byte, 1+r.IntN(maxPayload))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// A hundred clients at once, spread over both loops, each with its own random
// payload: every byte must come back to the client that sent it, in order.
func TestEchoManyClientsGetEveryByte(t *testing.T) {
	e := startEcho(t, clitest.Flags())
	const clients = 100
	conns := make([]net.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, e)
	}
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Go(func() {
			if err := echoPayload(conn, randomPayload(uint64(i))); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The same server on a unix socket: "-addr unix:/path" goes through
// cli.Network to a unix listener, and the socket file is removed at shutdown.
func TestEchoOverUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo.sock")
	f := clitest.Flags()
	f.Addr = "unix:" + path
	e := startEcho(t, f)
	if got := e.Addrs()[0].Network(); got != "unix" {
		t.Fatalf("listening on %q, want unix", got)
	}
	conn := dial(t, e)
	for i := range 3 {
		if err := echoPayload(conn, randomPayload(uint64(1000+i))); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}

// A client that shuts its writing side gets everything echoed, then EOF: the
// handler has no OnEOF, so the conn closes once its queue is written.
func TestEchoClosesAfterClientEOF(t *testing.T) {
	e := startEcho(t, clitest.Flags())
	conn := dial(t, e)
	msg := []byte("last words")
	if _, err := conn.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	got, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %q, want %q then EOF", got, msg)
	}
}
