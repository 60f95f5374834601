package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// TestMain fails the run if a test leaves a goroutine or an fd behind: a
// slot that shutdown did not wait for, an echo conn, a listener.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }

func TestMessageIsAFunctionOfConnAndSequenceOnly(t *testing.T) {
	batched := 0
	for seq := uint64(0); seq < 2000; seq++ {
		n := msgLen(7, seq)
		if n < 1 || n > maxMsgLen {
			t.Fatalf("msgLen(7, %d) = %d, want 1 … %d", seq, n, maxMsgLen)
		}
		if k := batchLen(7, seq); k < 1 || k > maxBatch {
			t.Fatalf("batchLen(7, %d) = %d, want 1 … %d", seq, k, maxBatch)
		} else if k > 1 {
			batched++
		}
		a, b := make([]byte, n), make([]byte, n)
		fillMsg(a, 7, seq)
		fillMsg(b, 7, seq)
		if !bytes.Equal(a, b) {
			t.Fatalf("message (7, %d) differs between two fills", seq)
		}
	}
	// One write in four is pipelined: 500 expected, ±100 is many sigmas.
	if batched < 400 || batched > 600 {
		t.Errorf("%d of 2000 batches pipelined, want about 500", batched)
	}
}

func TestMessagesOfOtherConnsOrSequencesDiffer(t *testing.T) {
	// Equal lengths are forced by comparing prefixes of 64 bytes: an echo
	// delivered to the wrong conn, or a stale one, must not match.
	want := make([]byte, 64)
	fillMsg(want, 1, 5)
	for _, other := range [][2]uint64{{2, 5}, {1, 4}, {1, 6}, {1<<40 | 1, 5}} {
		got := make([]byte, 64)
		fillMsg(got, other[0], other[1])
		if bytes.Equal(got, want) {
			t.Errorf("message %v equals message {1 5}", other)
		}
	}
}

func TestFillMsgHandlesLengthsThatAreNotWholeBlocks(t *testing.T) {
	long := make([]byte, 64)
	fillMsg(long, 3, 9)
	for n := 1; n < 64; n++ {
		short := make([]byte, n)
		fillMsg(short, 3, 9)
		if !bytes.Equal(short, long[:n]) {
			t.Fatalf("a %d-byte fill is not a prefix of the 64-byte fill", n)
		}
	}
}

func TestFirstDiffFindsTheFirstWrongByteAndLocateNamesItsMessage(t *testing.T) {
	const id, seq, k = 11, 40, 3
	want := appendBatch(nil, id, seq, k)
	got := bytes.Clone(want)
	if i := firstDiff(got, want); i != -1 {
		t.Fatalf("firstDiff of equal batches = %d, want -1", i)
	}
	if i := firstDiff(got[:10], want); i != -1 {
		t.Fatalf("firstDiff of a prefix = %d, want -1", i)
	}
	off := msgLen(id, seq) + 2 // third byte of the second message
	got[off] ^= 0x80
	if i := firstDiff(got, want); i != off {
		t.Fatalf("firstDiff = %d, want %d", i, off)
	}
	if m, o := locate(id, seq, k, off); m != seq+1 || o != 2 {
		t.Fatalf("locate = message %d byte %d, want message %d byte 2", m, o, seq+1)
	}
	if i := firstDiff(append(bytes.Clone(want), 'x'), want); i != len(want) {
		t.Fatalf("firstDiff with a surplus byte = %d, want %d", i, len(want))
	}
}

// steadyRSS makes steady-phase samples, one per second, with RSS from f.
func steadyRSS(seconds int, f func(s int) int64) []sample {
	out := []sample{{Phase: "ramp", Steady: -1, ServerRSS: 1}} // ignored: not steady
	for s := 1; s <= seconds; s++ {
		out = append(out, sample{Phase: "steady", Steady: float64(s), ServerRSS: f(s)})
	}
	return out
}

func TestRSSFlatnessJudgement(t *testing.T) {
	const mb = 1 << 20
	cases := []struct {
		name string
		rss  func(s int) int64
		flat bool
	}{
		// A GC sawtooth of ±10% around a flat level: the medians agree.
		{"sawtooth", func(s int) int64 { return int64(100*mb + (s%3-1)*10*mb) }, true},
		{"warm-up growth only", func(s int) int64 { return int64(min(s, 20) * 5 * mb) }, true},
		{"shrinking", func(s int) int64 { return int64((200 - s) * mb) }, true},
		// A small server's 2 MiB step is 20%, but under the slack.
		{"small server's heap step", func(s int) int64 { return int64(10*mb + min(s/60, 1)*2*mb) }, true},
		// 0.2 MiB a second: 14 MiB between the window midpoints, +14%.
		{"steady leak", func(s int) int64 { return int64(100*mb + s*mb/5) }, false},
	}
	for _, c := range cases {
		early, late, ne, nl := rssWindows(steadyRSS(120, c.rss), 20, 30, 120)
		if ne != 31 || nl != 31 {
			t.Fatalf("%s: %d and %d samples in the windows, want 31 each", c.name, ne, nl)
		}
		if got := rssFlat(early, late, 0.10); got != c.flat {
			t.Errorf("%s: rssFlat(%.1f MiB, %.1f MiB) = %v, want %v", c.name, early/mb, late/mb, got, c.flat)
		}
	}
	if rssFlat(math.NaN(), 100, 0.1) || rssFlat(0, 0, 0.1) {
		t.Error("rssFlat passed a window without samples")
	}
}

// echoServer serves an echo on loopback until the test ends; corrupt flips
// the first bit of every chunk it echoes.
func echoServer(t *testing.T, corrupt bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 8<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 && corrupt {
						buf[0] ^= 1
					}
					if n > 0 {
						c.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// soakBriefly runs a client of 20 conns, 20 messages per conn per second,
// half of them replaced per second, for d, and returns its final stats.
func soakBriefly(t *testing.T, addr string, d time.Duration) stats {
	cl := newClient(clientConfig{Conns: 20, Addr: addr, Rate: 20, Churn: 0.5})
	cl.start()
	cl.startChurn()
	time.Sleep(d)
	if n := cl.shutdown(5 * time.Second); n != 0 {
		t.Fatalf("%d conns did not finish", n)
	}
	return cl.snapshot(-1)
}

func TestClientVerifiesEveryByteAcrossChurn(t *testing.T) {
	s := soakBriefly(t, echoServer(t, false), time.Second)
	if s.Mismatches != 0 || s.failures() != 0 || s.ConnectErrors != 0 {
		t.Fatalf("errors against a correct echo: %+v", s)
	}
	if s.MsgsVerified == 0 || s.MsgsVerified != s.MsgsSent || s.BytesVerified != s.BytesSent {
		t.Fatalf("not every message verified: %+v", s)
	}
	// A conn churned as the client stops is not replaced, hence ≤.
	if s.Churned == 0 || s.Opened <= 20 || s.Opened > 20+s.Churned || s.Open != 0 {
		t.Fatalf("churn: opened %d, churned %d, open %d; want 20 < opened ≤ 20 + churned and none open", s.Opened, s.Churned, s.Open)
	}
}

func TestClientCatchesACorruptingServer(t *testing.T) {
	s := soakBriefly(t, echoServer(t, true), 300*time.Millisecond)
	if s.Mismatches == 0 || s.BytesVerified >= s.BytesSent || len(s.Notes) == 0 {
		t.Fatalf("a corrupting echo went unnoticed: %+v", s)
	}
}

// idleConn returns a client conn to a server that does serve(c) with its
// side of the conn, and closes both when the test ends.
func idleConn(t *testing.T, serve func(c net.Conn)) net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	serve(s)
	time.Sleep(50 * time.Millisecond) // loopback delivery
	return c
}

func TestIdleCheckIgnoresAnExpiredRoundTripDeadline(t *testing.T) {
	cl := newClient(clientConfig{})
	c := idleConn(t, func(net.Conn) {})
	c.SetDeadline(time.Now().Add(-time.Second)) // as a round trip long past leaves it
	cl.checkQuiet(c, 1)
	if s := cl.snapshot(0); s.UnexpectedCloses != 0 || s.Mismatches != 0 || s.failures() != 0 {
		t.Fatalf("a quiet conn with an expired deadline was reported: %+v", s)
	}
}

func TestIdleCheckCatchesSurplusBytesAndServerClose(t *testing.T) {
	cl := newClient(clientConfig{})
	cl.checkQuiet(idleConn(t, func(s net.Conn) { s.Write([]byte("x")) }), 1)
	cl.checkQuiet(idleConn(t, func(s net.Conn) { s.Close() }), 2)
	if s := cl.snapshot(0); s.Mismatches != 1 || s.UnexpectedCloses != 1 {
		t.Fatalf("surplus byte and server close: %+v, want one mismatch and one unexpected close", s)
	}
}

func TestServeCommandsAnswersStatsThenStopsWithAFinalLine(t *testing.T) {
	cl := newClient(clientConfig{Conns: 2, Addr: echoServer(t, false), Rate: 10})
	cl.start()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan struct{})
	go func() { serveCommands(cl, inR, outW); outW.Close(); close(done) }()
	lines := bufio.NewScanner(outR)
	read := func() stats {
		if !lines.Scan() {
			t.Fatalf("no line: %v", lines.Err())
		}
		var s stats
		if err := json.Unmarshal(lines.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	io.WriteString(inW, "stats 7\n")
	if s := read(); s.Seq != 7 || s.Final {
		t.Fatalf("answer to stats 7: %+v", s)
	}
	io.WriteString(inW, "stop\n")
	if s := read(); !s.Final || s.Open != 0 || s.Unfinished != 0 {
		t.Fatalf("final line: %+v", s)
	}
	inW.Close()
	testutil.Recv(t, done, 5*time.Second, "serveCommands")
}
