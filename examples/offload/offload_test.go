package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// testDir makes a directory with a file, a subdirectory and a symbolic link
// that points out of it, and returns it with the file's expected FILE answer.
func testDir(t *testing.T) (dir, fileAnswer string) {
	t.Helper()
	dir = t.TempDir()
	content := []byte(strings.Repeat("offloaded file bytes\n", 5000))
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	return dir, fmt.Sprintf("%d %s", len(content), hex.EncodeToString(sum[:]))
}

// longHash is the round count of a HASH that keeps a worker busy for a while:
// a tenth of a second or more, against well under a millisecond for a FAST.
const longHash = 300000

// checkAnswers asks every kind of request, good and bad, on one conn.
func checkAnswers(t *testing.T, workers int) {
	dir, fileAnswer := testDir(t)
	cl := dial(t, startOffload(t, testFlags(workers), dir))
	cases := []struct{ request, want string }{
		{"FAST", "fast"},
		{"HASH 1", wantHash(1)},
		{"HASH 5000", wantHash(5000)},
		{"FILE data.txt", fileAnswer},
		{"FAST\r", "fast"}, // a CRLF line, as telnet sends
		{"FILE missing.txt", "ERR no such file"},
		{"FILE sub", "ERR not a regular file"},
		{"FILE ../data.txt", "ERR FILE wants a plain file name"},
		{"FILE /etc/passwd", "ERR FILE wants a plain file name"},
		{"FILE escape", "ERR cannot stat the file"}, // os.Root refuses to follow it out
		{"FILE ", "ERR FILE wants a plain file name"},
		{"HASH x", "ERR HASH wants a count from 1 to 1000000"},
		{"HASH 0", "ERR HASH wants a count from 1 to 1000000"},
		{"HASH 1000001", "ERR HASH wants a count from 1 to 1000000"},
		{"FAST now", "ERR FAST takes no argument"},
		{"NOPE", "ERR unknown command (want FAST, HASH or FILE)"},
		{"", "ERR unknown command (want FAST, HASH or FILE)"},
		{"FAST", "fast"}, // bad requests leave the conn usable
	}
	for _, tc := range cases {
		if got := cl.ask(tc.request); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.request, got, tc.want)
		}
	}
}

func TestAnswersWithWorkers(t *testing.T) { checkAnswers(t, 4) }

// With -workers 0 the slow commands run on the loop and answer the same.
func TestAnswersWithoutWorkers(t *testing.T) { checkAnswers(t, 0) }

// A slow HASH followed by ten FASTs in one write: the FASTs are computed on the
// loop while the HASH runs on a worker, yet every answer comes back in request
// order; so do several HASHes that finish out of order on different workers.
func TestPipelinedAnswersKeepRequestOrder(t *testing.T) {
	for _, workers := range []int{4, 0} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			cl := dial(t, startOffload(t, testFlags(workers), t.TempDir()))
			var req strings.Builder
			want := []string{wantHash(200000)}
			req.WriteString("HASH 200000\n")
			for range 10 {
				req.WriteString("FAST\n")
				want = append(want, "fast")
			}
			for _, n := range []int{20000, 1, 10000, 2} {
				fmt.Fprintf(&req, "HASH %d\nNOPE\n", n)
				want = append(want, wantHash(n), "ERR unknown command (want FAST, HASH or FILE)")
			}
			cl.send(req.String())
			for i, w := range want {
				if got := cl.line(); got != w {
					t.Fatalf("answer %d: got %q, want %q", i, got, w)
				}
			}
		})
	}
}

// On one loop, a FAST on another conn is answered while a long HASH
// is still on a worker: the loop is not blocked by offloaded work.
func TestFastIsNotBlockedByOffloadedHash(t *testing.T) {
	f := testFlags(4)
	f.Loops = 1
	e := startOffload(t, f, t.TempDir())
	slow, fast := dial(t, e), dial(t, e)
	slow.send(fmt.Sprintf("HASH %d\n", longHash))
	testutil.Eventually(t, testWait, func() bool { return e.Stats().Total.OffloadsInFlight == 1 },
		"the HASH to be offloaded")
	if got := fast.ask("FAST"); got != "fast" {
		t.Fatalf("FAST: got %q", got)
	}
	if n := e.Stats().Total.OffloadsInFlight; n != 1 {
		t.Fatalf("the HASH finished before FAST was answered (%d in flight): it is too quick to show anything", n)
	}
	if got := slow.line(); got != wantHash(longHash) {
		t.Fatalf("HASH %d: got %q", longHash, got)
	}
}

// A client that shuts its writing side right after its requests still gets
// every answer, the offloaded ones included, and then EOF.
func TestAnswersOwedAtClientEOFAreWritten(t *testing.T) {
	cl := dial(t, startOffload(t, testFlags(4), t.TempDir()))
	cl.send("HASH 100000\nFAST\n")
	if err := cl.conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	if got := cl.line(); got != wantHash(100000) {
		t.Fatalf("HASH: got %q", got)
	}
	if got := cl.line(); got != "fast" {
		t.Fatalf("FAST: got %q", got)
	}
	cl.expectEOF()
}

// A line longer than 4 KiB is refused with ERR and the conn closed, after the
// answers owed to the requests before it.
func TestOverlongLineClosesTheConn(t *testing.T) {
	for _, workers := range []int{4, 0} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			cl := dial(t, startOffload(t, testFlags(workers), t.TempDir()))
			cl.send("HASH 50000\nFAST\n" + strings.Repeat("x", maxLine+1))
			for _, want := range []string{wantHash(50000), "fast", "ERR line too long"} {
				if got := cl.line(); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
			cl.expectEOF()
		})
	}
}

// One worker and many conns pipelining HASHes at once: most Offload calls find
// the pool busy and get ErrOverloaded, the engine pauses those conns and
// resumes them later, and every request is still answered, in order.
func TestOverloadLosesNoRequest(t *testing.T) {
	f := testFlags(1)
	e := startOffload(t, f, t.TempDir())
	const conns, perConn = 8, 4
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		cl := dial(t, e)
		wg.Go(func() {
			var req strings.Builder
			for j := range perConn {
				fmt.Fprintf(&req, "HASH %d\nFAST\n", 1000+i*perConn+j)
			}
			if !cl.send(req.String()) {
				return
			}
			for j := range perConn {
				if got, want := cl.line(), wantHash(1000+i*perConn+j); got != want {
					t.Errorf("conn %d, HASH %d: got %q, want %q", i, j, got, want)
					return
				}
				if got := cl.line(); got != "fast" {
					t.Errorf("conn %d, FAST %d: got %q", i, j, got)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d requests through one worker in %v", conns*perConn*2, time.Since(start))
}

// A conn whose HASH found the only worker busy, with no offload of its own in
// flight, is resumed as soon as the worker is free again, not when ants
// retires the idle worker a second or two later. (ants' Pool.Free counts idle
// workers as running, so a check based on it would wait for that.)
func TestOverloadedConnResumesWhenTheWorkerFrees(t *testing.T) {
	f := testFlags(1)
	f.Loops = 1
	e := startOffload(t, f, t.TempDir())
	busy, waiting := dial(t, e), dial(t, e)
	busy.send(fmt.Sprintf("HASH %d\n", longHash))
	testutil.Eventually(t, testWait, func() bool { return e.Stats().Total.OffloadsInFlight == 1 },
		"the HASH to take the worker")
	waiting.send("HASH 1\n")
	if got := busy.line(); got != wantHash(longHash) {
		t.Fatalf("HASH %d: got %q", longHash, got)
	}
	freed := time.Now()
	if got := waiting.line(); got != wantHash(1) {
		t.Fatalf("HASH 1: got %q", got)
	}
	// The engine retries every millisecond; half a second is room for a slow
	// machine, and well under ants' one-second expiry of idle workers.
	if wait := time.Since(freed); wait > 500*time.Millisecond {
		t.Errorf("the overloaded conn was answered %v after the worker freed up, want well under a second", wait)
	}
}

// A client that pipelines far more FASTs behind a slow HASH than the server
// holds back (maxHeld) makes the conn stop reading until the HASH's answer is
// written; then it reads on, and every answer arrives, in order.
func TestManyAnswersHeldBehindASlowOnePauseReading(t *testing.T) {
	cl := dial(t, startOffload(t, testFlags(4), t.TempDir()))
	fasts := 2 * maxHeld / len("fast\n") // twice what may be held back
	// The requests are written from another goroutine: the server stops
	// reading them until this one reads the answers.
	sent := make(chan error, 1)
	go func() {
		_, err := io.WriteString(cl.conn, "HASH 200000\n"+strings.Repeat("FAST\n", fasts))
		sent <- err
	}()
	if got := cl.line(); got != wantHash(200000) {
		t.Fatalf("HASH: got %q", got)
	}
	for i := range fasts {
		if got := cl.line(); got != "fast" {
			t.Fatalf("FAST %d: got %q", i, got)
		}
	}
	if err := testutil.Recv(t, sent, testWait, "the requests to be written"); err != nil {
		t.Fatalf("write: %v", err)
	}
}
