package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// trickledArgs and trickledPiece shape the command the tests below send in
// pieces: an MSET of 100,000 pairs (2.6 MB) in 16 KiB writes, 159 of them.
const (
	trickledArgs  = 200_001
	trickledPiece = 16 << 10
)

// bigMSet encodes an MSET of args arguments, the name included (args is odd).
func bigMSet(args int) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(args) + "\r\n$4\r\nMSET\r\n")
	for i := range args - 1 {
		b.WriteString(bulk(fmt.Sprintf("k%06d", i/2)))
	}
	return b.String()
}

// countScans points the parser's scanHook at a counter for the rest of the
// test. Call it before the server starts: the hook is read by the loop
// goroutine, and put back only once the loop has stopped.
func countScans(t *testing.T) *atomic.Int64 {
	var scanned atomic.Int64
	scanHook = func(n int) { scanned.Add(int64(n)) }
	t.Cleanup(func() { scanHook = nil })
	return &scanned
}

// unreadWatcher records, after each OnData, how many bytes its conn left
// unread, so a test can wait until the server has seen all it sent of a
// command that is not complete yet (those bytes stay unread). Conns that
// leave nothing unread are not recorded, so a PING on another conn does not
// overwrite the figure.
type unreadWatcher struct {
	*server
	unread atomic.Int64
}

func (h *unreadWatcher) OnData(c *transport.Conn) {
	h.server.OnData(c)
	if n := c.Buffered(); n > 0 {
		h.unread.Store(int64(n))
	}
}

// trickle sends cmd on c in pieces of trickledPiece bytes. After each piece
// but the last, it calls between (if not nil) and then waits until the server
// holds every byte sent so far, so that each piece reaches OnData on its own
// instead of several piling up in the socket while the loop is busy.
func trickle(t *testing.T, h *unreadWatcher, c *client, cmd string, between func(piece int)) {
	t.Helper()
	pieces := 0
	for sent := 0; sent < len(cmd); {
		end := min(sent+trickledPiece, len(cmd))
		c.send(cmd[sent:end])
		sent = end
		if sent == len(cmd) {
			break
		}
		if between != nil {
			between(pieces)
		}
		testutil.Eventually(t, testWait, func() bool { return h.unread.Load() == int64(sent) },
			"the server to hold the first %d bytes of the command", sent)
		pieces++
	}
}

// TestTrickledCommandIsNotParsedAgainFromItsStart sends a 2.6 MB MSET in 16
// KiB pieces and counts the bytes the parser scans: resuming where it stopped,
// it scans the command about once, as when the command is sent in one write.
// The parser before this one, which started again from the command's first
// byte at each piece, scanned 68 times its size (quadratic in the size).
func TestTrickledCommandIsNotParsedAgainFromItsStart(t *testing.T) {
	scanned := countScans(t)
	h := &unreadWatcher{server: newServer(newKeyspace(defaultStripes), defaultPubsubLimit)}
	addr := startServer(t, 1, h)[0]
	cmd := bigMSet(trickledArgs)

	atOnce := dial(t, addr)
	atOnce.do(cmd, "+OK\r\n")
	scannedAtOnce := scanned.Swap(0)

	trickled := dial(t, addr)
	trickle(t, h, trickled, cmd, nil)
	trickled.expect("+OK\r\n")
	scannedTrickled := scanned.Load()

	t.Logf("%d-byte command: parser scanned %d bytes sent at once, %d sent in %d-byte pieces",
		len(cmd), scannedAtOnce, scannedTrickled, trickledPiece)
	size := int64(len(cmd))
	switch {
	case scannedAtOnce < size || scannedTrickled < size:
		t.Fatalf("parser scanned %d and %d bytes of a %d-byte command: the hook misses some", scannedAtOnce, scannedTrickled, size)
	case scannedTrickled > 2*size:
		t.Errorf("parser scanned %d bytes of a %d-byte command sent in pieces, want at most twice its size", scannedTrickled, size)
	}
	trickled.do(mb("GET", "k099999"), bulk("k099999"))
}

// TestPingIsAnsweredWhileACommandTrickles pings from a second conn on the same
// loop while a big command arrives in pieces: each PING is answered while the
// command is still incomplete (its last piece is sent only after the last
// PONG), and the big command is answered after. The PING latencies are logged,
// not checked: they depend on the machine.
func TestPingIsAnsweredWhileACommandTrickles(t *testing.T) {
	h := &unreadWatcher{server: newServer(newKeyspace(defaultStripes), defaultPubsubLimit)}
	addr := startServer(t, 1, h)[0]
	big, pinger := dial(t, addr), dial(t, addr)
	pinger.do(mb("PING"), "+PONG\r\n")

	var latencies []time.Duration
	trickle(t, h, big, bigMSet(trickledArgs), func(piece int) {
		if piece%8 != 0 {
			return
		}
		// The PING goes out right behind the piece, so the loop has the piece
		// to parse when it reads the PING.
		start := time.Now()
		pinger.do(mb("PING"), "+PONG\r\n")
		latencies = append(latencies, time.Since(start))
	})
	big.expect("+OK\r\n")

	slices.Sort(latencies)
	t.Logf("%d PINGs while the command arrived: median %v, slowest %v",
		len(latencies), latencies[len(latencies)/2], latencies[len(latencies)-1])
}

// FuzzRESPSplit reads the same input as a conn's OnData loop does, twice: sent
// at once, and arriving in pieces whose sizes cuts gives (each byte b one piece
// of b+1 bytes, cycling). The commands read and the protocol error that ends
// the input, if any, must be the same whatever the cuts. Between pieces the
// unread bytes move to a new buffer and the old one is overwritten, as the
// transport may move them, so parse state kept as slices rather than offsets
// reads garbage.
func FuzzRESPSplit(f *testing.F) {
	long := strings.Repeat("9", maxLineLen+1)
	for _, seed := range []string{
		mb("SET", "key", "value"), mb("GET", "key") + mb("PING"), "PING\r\n", "SET a b\n",
		"*0\r\n", "*-1\r\n", "*1\r\n$-1\r\n", "*2\r\n$1\r\na\r\n", "*1\r\n$1\r\nab\r\n",
		"*1\rx", "\r\n", "*x\r\n", "$5\r\nhello\r\n", "*1\r\n$1\r\na\n\r", "*1\n",
		mb("MSET", "a", "", "b", strings.Repeat("x", 300)) + "  SET \t k   v  \r\n" + mb("GET", "k"),
	} {
		for _, cuts := range []string{"", "\x00", "\x01", "\x02\x00\x05", "\xff"} {
			f.Add([]byte(seed), []byte(cuts))
		}
	}
	// Lines at and over maxLineLen, in 256-byte pieces: finer ones would make
	// readPieces, which copies the unread bytes at each piece, quadratic.
	for _, seed := range []string{
		strings.Repeat("a", maxLineLen) + "\n", strings.Repeat(" ", maxLineLen+1),
		"*" + long, "*1\r\n$" + long, "*1\r\n$" + strings.Repeat("1", maxLineLen) + "\r\n",
	} {
		f.Add([]byte(seed), []byte("\xff"))
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		atOnce, inPieces := readPieces(data, nil), readPieces(data, cuts)
		if !slices.Equal(atOnce, inPieces) {
			t.Fatalf("input %q\nsent at once: %q\ncut by %v: %q", clip(string(data)), atOnce, cuts, inPieces)
		}
	})
}

// readPieces feeds data to readCommand as a conn's OnData loop does, in pieces
// whose sizes cuts gives (no cuts: one piece), and returns what it read: each
// command's arguments, quoted, then the protocol error that stopped it, if
// any. Its scratch arrays are small, so that short inputs reach the paths that
// outgrow them.
func readPieces(data, cuts []byte) []string {
	var read []string
	var kept *partial
	var unread []byte
	var argv [2][]byte
	var spanv [2]span
	for i, off := 0, 0; off < len(data); i++ {
		size := len(data)
		if len(cuts) > 0 {
			size = int(cuts[i%len(cuts)]) + 1
		}
		piece := data[off:min(off+size, len(data))]
		off += len(piece)
		moved := append(append(make([]byte, 0, len(unread)+len(piece)), unread...), piece...)
		for j := range unread {
			unread[j] = '?'
		}
		unread = moved
		for {
			args, n, err := readCommand(unread, &kept, spanv[:0], argv[:0])
			if err != nil {
				return append(read, "error: "+err.Error())
			}
			if n == 0 {
				break
			}
			read = append(read, fmt.Sprintf("%q", args))
			unread = unread[n:]
		}
	}
	return read
}
