package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/examples/internal/clitest"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// TestMain fails the run on leaked goroutines or fds.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }

// testWait bounds every wait in these tests. It is generous because the race
// detector on a two-core machine is slow; a passing test never waits this long.
const testWait = 20 * time.Second

// testFlags are clitest's standard test flags with a pool of workers.
func testFlags(workers int) *cli.Flags {
	f := clitest.Flags()
	f.Workers = workers
	return f
}

// startOffload serves the offload handler for dir with f as main does, through
// cli.Serve, and returns the running engine; it stops when the test ends.
func startOffload(t testing.TB, f *cli.Flags, dir string) *shard.Engine {
	t.Helper()
	return clitest.Start(t, f, func(e *shard.Engine) (transport.Handler, error) { return newServer(e, dir) }, testWait)
}

// client is one conn to the server, with a deadline on everything and a line
// reader. Its methods report failures with t.Error and return zero values, so
// that they can run on goroutines other than the test's.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// dial connects to the engine; the conn is closed when the test ends.
func dial(t testing.TB, e *shard.Engine) *client {
	t.Helper()
	conn := clitest.Dial(t, e, testWait)
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// send writes raw as one write.
func (cl *client) send(raw string) bool {
	if _, err := io.WriteString(cl.conn, raw); err != nil {
		cl.t.Errorf("write: %v", err)
		return false
	}
	return true
}

// line reads one answer, without its newline.
func (cl *client) line() string {
	s, err := cl.r.ReadString('\n')
	if err != nil {
		cl.t.Errorf("read an answer: %v (got %q)", err, s)
		return ""
	}
	return strings.TrimSuffix(s, "\n")
}

// ask sends one request line and returns its answer.
func (cl *client) ask(request string) string {
	if !cl.send(request + "\n") {
		return ""
	}
	return cl.line()
}

// expectEOF checks that the server closed the conn with nothing more to say.
func (cl *client) expectEOF() {
	cl.t.Helper()
	rest, err := io.ReadAll(cl.r)
	if err != nil && !errors.Is(err, io.EOF) {
		cl.t.Fatalf("want EOF, got %v", err)
	}
	if len(rest) > 0 {
		cl.t.Fatalf("want EOF, got %q", rest)
	}
}

// wantHash is HASH n's answer, computed here independently of the server.
func wantHash(n int) string {
	sum := sha256.Sum256([]byte("sycamore offload example"))
	for i := 1; i < n; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return hex.EncodeToString(sum[:])
}
