package main

import (
	"strconv"
	"strings"
	"testing"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// TestCommandsAnswerAsRedisDoes runs every command over one connection, in the
// multibulk form redis-cli sends, and checks each reply byte for byte.
func TestCommandsAnswerAsRedisDoes(t *testing.T) {
	_, addr := startRedis(t)
	c := dial(t, addr)
	steps := []struct{ request, reply string }{
		{mb("PING"), "+PONG\r\n"},
		{mb("ping", "hello"), bulk("hello")},
		{mb("ECHO", "a b\r\nc"), bulk("a b\r\nc")},
		{mb("GET", "k"), "$-1\r\n"},
		{mb("SET", "k", "v1"), "+OK\r\n"},
		{mb("get", "k"), bulk("v1")},
		{mb("SET", "k", "a much longer value than before"), "+OK\r\n"},
		{mb("GET", "k"), bulk("a much longer value than before")},
		{mb("SET", "k", ""), "+OK\r\n"},
		{mb("GET", "k"), bulk("")},
		{mb("SET", "k", "v2", "NX"), "$-1\r\n"},
		{mb("SET", "new", "v", "nx"), "+OK\r\n"},
		{mb("SET", "absent", "v", "XX"), "$-1\r\n"},
		{mb("SET", "k", "v3", "xx"), "+OK\r\n"},
		{mb("SET", "k", "v4", "EX", "10"), "-ERR syntax error\r\n"},
		{mb("SET", "k", "v4", "NX", "XX"), "-ERR syntax error\r\n"},
		{mb("GET", "k"), bulk("v3")},
		{mb("EXISTS", "k", "new", "absent", "k"), integer(3)},
		{mb("DEL", "k", "absent", "k"), integer(1)},
		{mb("EXISTS", "k"), integer(0)},
		{mb("INCR", "n"), integer(1)},
		{mb("incr", "n"), integer(2)},
		{mb("SET", "n", "-5"), "+OK\r\n"},
		{mb("INCR", "n"), integer(-4)},
		{mb("MSET", "a", "1", "b", "2", "a", "3"), "+OK\r\n"},
		{mb("MGET", "a", "missing", "b"), "*3\r\n" + bulk("3") + "$-1\r\n" + bulk("2")},
		{mb("DBSIZE"), integer(4)},
		{mb("SELECT", "0"), "+OK\r\n"},
		{mb("SELECT", "1"), "-ERR DB index is out of range\r\n"},
		{mb("COMMAND"), "*0\r\n"},
		{mb("COMMAND", "DOCS"), "*0\r\n"},
		{mb("command", "count"), integer(0)},
		{mb("COMMAND", "nope"), "-ERR unknown subcommand 'nope'. Try COMMAND HELP.\r\n"},
		{mb("CONFIG", "GET", "save"), "*2\r\n" + bulk("save") + bulk("")},
		{mb("CONFIG", "GET", "appendonly"), "*2\r\n" + bulk("appendonly") + bulk("no")},
		{mb("CONFIG", "GET", "maxmemory"), "*0\r\n"},
		{mb("CONFIG", "SET", "save", ""), "-ERR unknown subcommand 'SET'. Try CONFIG HELP.\r\n"},
		{mb("QUIT"), "+OK\r\n"},
	}
	for _, s := range steps {
		c.do(s.request, s.reply)
	}
	c.expectClosed()
}

// TestInlineCommandsWork sends the telnet form: words on a line ended by "\r\n"
// or "\n"; blank lines are skipped.
func TestInlineCommandsWork(t *testing.T) {
	_, addr := startRedis(t)
	c := dial(t, addr)
	c.do("PING\r\n", "+PONG\r\n")
	c.do("ping\n", "+PONG\r\n")
	c.do("\r\n\n  \r\nPING  hi \r\n", bulk("hi"))
	c.do("SET\tk  v\r\n", "+OK\r\n")
	c.do("GET k\r\n", bulk("v"))
	c.do("INCR k\n", "-ERR value is not an integer or out of range\r\n")
	c.do("QUIT\r\n", "+OK\r\n")
	c.expectClosed()
}

// TestPipelineOf100IsAnsweredInOrder writes 100 commands in one write and wants
// the 100 replies in the order of the commands.
func TestPipelineOf100IsAnsweredInOrder(t *testing.T) {
	_, addr := startRedis(t)
	c := dial(t, addr)
	var request, reply strings.Builder
	for i := range 100 {
		switch i % 4 {
		case 0:
			request.WriteString(mb("ECHO", "message-"+strconv.Itoa(i)))
			reply.WriteString(bulk("message-" + strconv.Itoa(i)))
		case 1:
			request.WriteString(mb("INCR", "counter"))
			reply.WriteString(integer(i/4 + 1))
		case 2:
			request.WriteString(mb("SET", "k", strconv.Itoa(i)))
			reply.WriteString("+OK\r\n")
		case 3:
			request.WriteString("GET k\r\n")
			reply.WriteString(bulk(strconv.Itoa(i - 1)))
		}
	}
	c.do(request.String(), reply.String())
}

// countingHandler counts OnData calls, so a test can wait until the server has
// seen each byte it sent.
type countingHandler struct {
	*server
	calls atomic.Int64
}

func (h *countingHandler) OnData(c *transport.Conn) {
	h.calls.Inc()
	h.server.OnData(c)
}

// TestCommandSplitByteByByteIsAnsweredOnce sends commands one byte at a time and
// waits for each byte to reach OnData before sending the next, so the parser
// sees every prefix of every command; only the complete ones are answered.
func TestCommandSplitByteByByteIsAnsweredOnce(t *testing.T) {
	h := &countingHandler{server: newServer(newKeyspace(defaultStripes), defaultPubsubLimit)}
	addr := startServer(t, 1, h)[0]
	c := dial(t, addr)
	request := mb("SET", "key", "value") + mb("GET", "key") + "PING\r\n"
	for i := range len(request) {
		c.send(request[i : i+1])
		testutil.Eventually(t, testWait, func() bool { return h.calls.Load() == int64(i+1) },
			"OnData for byte %d", i)
	}
	c.expect("+OK\r\n" + bulk("value") + "+PONG\r\n")
}

// TestProtocolErrorIsAnsweredThenClosed sends each kind of malformed request on
// a fresh connection: the server answers the commands before it, then
// "-ERR Protocol error: ..." and closes.
func TestProtocolErrorIsAnsweredThenClosed(t *testing.T) {
	_, addr := startRedis(t)
	long := strings.Repeat("1", maxLineLen+1)
	cases := []struct{ name, request, reply string }{
		{"multibulk length not a number", "*abc\r\n", "invalid multibulk length"},
		{"multibulk length too big", "*2000000\r\n", "invalid multibulk length"},
		{"multibulk length with a plus", "*+1\r\n", "invalid multibulk length"},
		{"bulk length not a number", "*1\r\n$abc\r\n", "invalid bulk length"},
		{"bulk length negative", "*1\r\n$-1\r\n", "invalid bulk length"},
		{"bulk over 512 MiB", "*1\r\n$536870913\r\n", "invalid bulk length"},
		{"bulk without its dollar", "*1\r\nPING\r\n", "expected '$', got 'P'"},
		{"bulk without its dollar, control byte", "*1\r\n\x00\r\n", "expected '$', got byte 0x00"},
		{"bulk data without CRLF", "*1\r\n$4\r\nPINGxx", "expected CRLF"},
		{"header with CR but no LF", "*1\rx", "expected CRLF"},
		{"inline line over 64 KiB", strings.Repeat("a", maxLineLen+1), "too big inline request"},
		{"multibulk count line over 64 KiB", "*" + long, "too big mbulk count string"},
		{"bulk length line over 64 KiB", "*1\r\n$" + long, "too big bulk count string"},
		{"error after a good command", "PING\r\n*1\r\n$x\r\n", "invalid bulk length"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tc.request)
			if strings.HasPrefix(tc.request, "PING\r\n") {
				c.expect("+PONG\r\n")
			}
			c.expect("-ERR Protocol error: " + tc.reply + "\r\n")
			c.expectClosed()
		})
	}
}

// TestUnknownCommandKeepsTheConnectionOpen wants Redis 7's error, with the
// client's words quoted but their control bytes blanked (a quoted "\r\n" would
// forge a reply), and the connection still usable.
func TestUnknownCommandKeepsTheConnectionOpen(t *testing.T) {
	_, addr := startRedis(t)
	c := dial(t, addr)
	c.do(mb("HELLO", "3"), "-ERR unknown command 'HELLO', with args beginning with: '3' \r\n")
	c.do(mb("NOPE"), "-ERR unknown command 'NOPE', with args beginning with: \r\n")
	c.do(mb("EVIL\r\n+OK", "x\ny"), "-ERR unknown command 'EVIL  +OK', with args beginning with: 'x y' \r\n")
	long := strings.Repeat("z", 300)
	c.do(mb(long, long), "-ERR unknown command '"+long[:quotedBudget]+"', with args beginning with: '"+long[:quotedBudget]+"' \r\n")
	c.do(mb("PING"), "+PONG\r\n")
}

// TestWrongArityIsAnsweredAndTheConnectionStaysOpen checks the arity of each
// command, MSET's even pairing and CONFIG GET's parameter included.
func TestWrongArityIsAnsweredAndTheConnectionStaysOpen(t *testing.T) {
	_, addr := startRedis(t)
	c := dial(t, addr)
	cases := []struct {
		args []string
		name string
	}{
		{[]string{"GET"}, "get"},
		{[]string{"GET", "a", "b"}, "get"},
		{[]string{"SET", "k"}, "set"},
		{[]string{"PING", "a", "b"}, "ping"},
		{[]string{"ECHO"}, "echo"},
		{[]string{"INCR"}, "incr"},
		{[]string{"DEL"}, "del"},
		{[]string{"EXISTS"}, "exists"},
		{[]string{"MGET"}, "mget"},
		{[]string{"MSET", "a"}, "mset"},
		{[]string{"MSET", "a", "1", "b"}, "mset"},
		{[]string{"SELECT"}, "select"},
		{[]string{"CONFIG"}, "config"},
		{[]string{"CONFIG", "GET"}, "config|get"},
	}
	for _, tc := range cases {
		c.do(mb(tc.args...), "-ERR wrong number of arguments for '"+tc.name+"' command\r\n")
	}
	c.do(mb("PING"), "+PONG\r\n")
}

// TestIncrOfANonIntegerIsAnError covers values Redis refuses to count with and
// the overflow at the top of int64; the value stays as it was.
func TestIncrOfANonIntegerIsAnError(t *testing.T) {
	_, addr := startRedis(t)
	c := dial(t, addr)
	for _, v := range []string{"abc", "", "010", "+1", " 1", "1.5", "-0", "99999999999999999999"} {
		c.do(mb("SET", "k", v), "+OK\r\n")
		c.do(mb("INCR", "k"), "-ERR value is not an integer or out of range\r\n")
		c.do(mb("GET", "k"), bulk(v))
	}
	c.do(mb("SET", "k", "9223372036854775807"), "+OK\r\n")
	c.do(mb("INCR", "k"), "-ERR increment or decrement would overflow\r\n")
	c.do(mb("SET", "k", "-9223372036854775808"), "+OK\r\n")
	c.do(mb("INCR", "k"), integer(-9223372036854775807))
}

// TestQuitAnswersOKAndIgnoresWhatFollows: QUIT closes after its +OK, and
// commands pipelined behind it are not run.
func TestQuitAnswersOKAndIgnoresWhatFollows(t *testing.T) {
	_, addr := startRedis(t)
	c := dial(t, addr)
	c.send(mb("SET", "k", "before") + mb("QUIT") + mb("SET", "k", "after"))
	c.expect("+OK\r\n+OK\r\n")
	c.expectClosed()

	d := dial(t, addr)
	d.do(mb("GET", "k"), bulk("before"))
}

// TestKeyspaceIsSharedByAllLoops serves one server on two loops: what one loop's
// client writes, the other loop's client reads, and counters incremented from
// both loops at once lose no update.
func TestKeyspaceIsSharedByAllLoops(t *testing.T) {
	addrs := startServer(t, 2, newServer(newKeyspace(defaultStripes), defaultPubsubLimit))
	first, second := dial(t, addrs[0]), dial(t, addrs[1])
	first.do(mb("SET", "shared", "from loop 0"), "+OK\r\n")
	second.do(mb("GET", "shared"), bulk("from loop 0"))
	second.do(mb("MSET", "x", "1", "y", "2"), "+OK\r\n")
	first.do(mb("MGET", "x", "y"), "*2\r\n"+bulk("1")+bulk("2"))

	const perLoop = 1000
	request := strings.Repeat(mb("INCR", "counter"), perLoop)
	first.send(request)
	second.send(request)
	done := make(chan string, 2)
	for _, c := range []*client{first, second} {
		go func() {
			buf := make([]byte, 0, perLoop*8)
			var b [4096]byte
			for strings.Count(string(buf), "\r\n") < perLoop {
				n, err := c.conn.Read(b[:])
				if err != nil {
					done <- "read: " + err.Error()
					return
				}
				buf = append(buf, b[:n]...)
			}
			done <- ""
		}()
	}
	for range 2 {
		if msg := testutil.Recv(t, done, testWait, "the INCR replies"); msg != "" {
			t.Fatal(msg)
		}
	}
	first.do(mb("GET", "counter"), bulk(strconv.Itoa(2*perLoop)))
}

// TestLargeValueSpanningManyReads sets and gets a 3 MiB value: the request
// arrives over many reads (the transport keeps the unread part between them)
// and the reply is bigger than the socket buffer, so it goes out over many
// writes.
func TestLargeValueSpanningManyReads(t *testing.T) {
	_, addr := startRedis(t)
	c := dial(t, addr)
	value := strings.Repeat("0123456789abcdef", 3<<20/16)
	c.send(mb("SET", "big", value) + mb("GET", "big") + mb("PING"))
	c.expect("+OK\r\n" + bulk(value) + "+PONG\r\n")
}

// queueWatcher records the largest write queue a connection had when OnData
// returned.
type queueWatcher struct {
	*server
	maxQueued atomic.Int64
}

func (h *queueWatcher) OnData(c *transport.Conn) {
	h.server.OnData(c)
	if q := int64(c.Queued()); q > h.maxQueued.Load() {
		h.maxQueued.Store(q) // only the loop goroutine stores
	}
}

// TestPipelinedBigRepliesWaitForTheQueueToDrain pipelines 200 GETs of a 256
// KiB value in one write: the server must not queue all 50 MiB of replies at
// once, and must still answer every command, in order, as the queue drains.
func TestPipelinedBigRepliesWaitForTheQueueToDrain(t *testing.T) {
	h := &queueWatcher{server: newServer(newKeyspace(defaultStripes), defaultPubsubLimit)}
	c := dial(t, startServer(t, 1, h)[0])
	value := strings.Repeat("v", 256<<10)
	c.do(mb("SET", "big", value), "+OK\r\n")
	const gets = 200
	c.send(strings.Repeat(mb("GET", "big"), gets) + mb("ECHO", "last"))
	for range gets {
		c.expect(bulk(value))
	}
	c.expect(bulk("last"))
	if most := h.maxQueued.Load(); most > outputBudget+int64(len(value))+64 {
		t.Errorf("up to %d bytes queued, want at most the budget (%d) and one reply", most, outputBudget)
	}
}
