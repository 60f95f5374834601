package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// Push replies as Redis writes them in RESP2.
func subscription(what, name string, count int) string {
	if name == "\x00" {
		return "*3\r\n" + bulk(what) + "$-1\r\n" + integer(count)
	}
	return "*3\r\n" + bulk(what) + bulk(name) + integer(count)
}

func pushMessage(channel, msg string) string {
	return "*3\r\n" + bulk("message") + bulk(channel) + bulk(msg)
}

func pushPMessage(pattern, channel, msg string) string {
	return "*4\r\n" + bulk("pmessage") + bulk(pattern) + bulk(channel) + bulk(msg)
}

// pubsubScript is a session of pubsub commands and the replies Redis 7 gives
// them, byte for byte: TestPubsubScriptAgainstRedisServer checks it against a
// real redis-server.
var pubsubScript = []struct{ conn, request, reply string }{
	{"sub", mb("SUBSCRIBE", "news", "sport"), subscription("subscribe", "news", 1) + subscription("subscribe", "sport", 2)},
	{"psub", mb("PSUBSCRIBE", "n?ws", "s[a-p]*"), subscription("psubscribe", "n?ws", 1) + subscription("psubscribe", "s[a-p]*", 2)},
	{"pub", mb("PUBLISH", "news", "hello"), integer(2)},
	{"sub", "", pushMessage("news", "hello")},
	{"psub", "", pushPMessage("n?ws", "news", "hello")},
	{"pub", mb("PUBLISH", "sport", "goal"), integer(2)},
	{"sub", "", pushMessage("sport", "goal")},
	{"psub", "", pushPMessage("s[a-p]*", "sport", "goal")},
	{"pub", mb("PUBLISH", "nobody", "x"), integer(0)},
	{"sub", mb("PING"), "*2\r\n" + bulk("pong") + bulk("")},
	{"sub", mb("PING", "hi"), "*2\r\n" + bulk("pong") + bulk("hi")},
	{"sub", mb("GET", "k"), "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"},
	{"sub", mb("SUBSCRIBE", "news"), subscription("subscribe", "news", 2)},
	{"sub", mb("UNSUBSCRIBE", "news", "weather"), subscription("unsubscribe", "news", 1) + subscription("unsubscribe", "weather", 1)},
	{"pub", mb("PUBLISH", "news", "again"), integer(1)},
	{"psub", "", pushPMessage("n?ws", "news", "again")},
	{"sub", mb("UNSUBSCRIBE"), subscription("unsubscribe", "sport", 0)},
	{"sub", mb("GET", "k"), "$-1\r\n"},
	{"sub", mb("UNSUBSCRIBE"), subscription("unsubscribe", "\x00", 0)},
	{"psub", mb("PUNSUBSCRIBE", "s[a-p]*"), subscription("punsubscribe", "s[a-p]*", 1)},
	{"pub", mb("PUBLISH", "news", "last"), integer(1)},
	{"psub", "", pushPMessage("n?ws", "news", "last")},
	{"pub", mb("SUBSCRIBE"), "-ERR wrong number of arguments for 'subscribe' command\r\n"},
	{"pub", mb("PUBLISH", "news"), "-ERR wrong number of arguments for 'publish' command\r\n"},
}

// playPubsubScript runs pubsubScript against the server at addr.
func playPubsubScript(t *testing.T, addr string) {
	conns := map[string]*client{}
	for _, step := range pubsubScript {
		c := conns[step.conn]
		if c == nil {
			c = dial(t, addr)
			conns[step.conn] = c
		}
		if step.request != "" {
			c.send(step.request)
		}
		c.expect(step.reply)
	}
}

// The subscribers and the publisher are on different loops, and the pattern
// subscriber on the publisher's: messages cross loops in tasks and stay on
// the publisher's loop without one.
func TestPubsubScriptAcrossLoops(t *testing.T) {
	srv := newServer(newKeyspace(defaultStripes), defaultPubsubLimit)
	addrs := startServer(t, 2, srv)
	conns := map[string]*client{"sub": dial(t, addrs[0]), "psub": dial(t, addrs[1]), "pub": dial(t, addrs[1])}
	for _, step := range pubsubScript {
		c := conns[step.conn]
		if step.request != "" {
			c.send(step.request)
		}
		c.expect(step.reply)
	}
}

// The script's replies are a real redis-server's, byte for byte.
func TestPubsubScriptAgainstRedisServer(t *testing.T) {
	playPubsubScript(t, startRedisServer(t))
}

// startRedisServer runs a real redis-server on a free loopback port for the
// test, or skips when it is not installed.
func startRedisServer(t *testing.T, args ...string) string {
	t.Helper()
	path := tool(t, "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, args...)...)
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	addr := "127.0.0.1:" + port
	testutil.Eventually(t, testWait, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "redis-server to listen on %s", addr)
	return addr
}

func TestGlobMatchesAsRedisDoes(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"", "", true},
		{"", "a", false},
		{"news.*", "news.sport", true},
		{"news.*", "news", false},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hallo", true}, // a reversed range, as Redis takes it
		{"h[a-b]llo", "hcllo", false},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*a*a*a*a*a*b", strings.Repeat("a", 60), false},
		{"a/*", "a/b/c", true}, // no path rules: * crosses '/'
		{"[abc", "b", true},    // an unclosed class runs to the end
	} {
		if got := globMatch(tc.pattern, []byte(tc.s)); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// subscriberClient reads one channel's messages, "<publisher>:<seq>" each, and
// checks that each publisher's arrive in order, with none missing.
type subscriberClient struct {
	conn net.Conn
	r    *bufio.Reader
	next map[string]int
	got  int
}

func subscribeClient(t *testing.T, addr, channel string) *subscriberClient {
	t.Helper()
	c := dial(t, addr)
	c.do(mb("SUBSCRIBE", channel), subscription("subscribe", channel, 1))
	return &subscriberClient{conn: c.conn, r: bufio.NewReader(c.conn), next: map[string]int{}}
}

// read reads n messages.
func (s *subscriberClient) read(n int) error {
	s.conn.SetReadDeadline(time.Now().Add(testWait))
	for range n {
		var parts [3]string
		if line, err := s.r.ReadString('\n'); err != nil || line != "*3\r\n" {
			return fmt.Errorf("message %d: header %q, %v", s.got, line, err)
		}
		for i := range parts {
			line, err := s.r.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "$") {
				return fmt.Errorf("message %d: %q, %v", s.got, line, err)
			}
			size, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
			buf := make([]byte, size+2)
			if _, err := io.ReadFull(s.r, buf); err != nil {
				return err
			}
			parts[i] = string(buf[:size])
		}
		pub, seq, _ := strings.Cut(parts[2], ":")
		if n, _ := strconv.Atoi(seq); n != s.next[pub] {
			return fmt.Errorf("message %d: %s's #%d, want #%d", s.got, pub, n, s.next[pub])
		}
		s.next[pub]++
		s.got++
	}
	return nil
}

// closeRecorder records why conns closed.
type closeRecorder struct {
	*server
	mu   sync.Mutex
	errs []error
}

func (h *closeRecorder) OnClose(c *transport.Conn, err error) {
	h.server.OnClose(c, err)
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
}

func (h *closeRecorder) slowConsumers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, err := range h.errs {
		if errors.Is(err, transport.ErrSlowConsumer) {
			n++
		}
	}
	return n
}

// RELIABILITY row 21: subscribers that stop reading are disconnected at the
// pubsub limit, the heap stays bounded while two publishers flood the channel,
// and every reading subscriber gets every message of each publisher, in order.
func TestSubscribersThatDoNotReadAreDisconnectedAtTheLimit(t *testing.T) {
	const limit, publishers, perPublisher, pipeline = 256 << 10, 2, 40000, 100
	h := &closeRecorder{server: newServer(newKeyspace(defaultStripes), limit)}
	addrs := startServer(t, 2, h)
	var readers []*subscriberClient
	for i := range 3 {
		readers = append(readers, subscribeClient(t, addrs[i%2], "feed"))
	}
	var stalled []*client
	for i := range 2 {
		c := dial(t, addrs[i%2])
		c.conn.(*net.TCPConn).SetReadBuffer(4 << 10)
		c.do(mb("SUBSCRIBE", "feed"), subscription("subscribe", "feed", 1))
		stalled = append(stalled, c)
	}
	heapPeak := testutil.HeapPeak()
	payload := strings.Repeat("x", 200)
	var wg sync.WaitGroup
	errs := make(chan error, publishers+len(readers))
	for p := range publishers {
		pub := dial(t, addrs[p%2])
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bufio.NewReader(pub.conn)
			for seq := 0; seq < perPublisher; seq += pipeline {
				var b strings.Builder
				for i := seq; i < seq+pipeline; i++ {
					b.WriteString(mb("PUBLISH", "feed", payload+"p"+strconv.Itoa(p)+":"+strconv.Itoa(i)))
				}
				pub.conn.SetDeadline(time.Now().Add(testWait))
				if _, err := io.WriteString(pub.conn, b.String()); err != nil {
					errs <- err
					return
				}
				for range pipeline {
					if _, err := r.ReadString('\n'); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	for _, s := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.read(publishers * perPublisher); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	grew := heapPeak()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	testutil.Eventually(t, testWait, func() bool { return h.slowConsumers() == len(stalled) },
		"the %d subscribers that do not read to be disconnected", len(stalled))
	for _, c := range stalled {
		c.conn.SetReadDeadline(time.Now().Add(testWait))
		if _, err := io.Copy(io.Discard, c.conn); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("a stalled subscriber read %v after its disconnection, want EOF or a reset", err)
		}
	}
	// Without the limit the stalled subscribers' queues would hold all that was
	// published, twice; with it each holds at most the limit, and the rest of
	// the growth is the clients' garbage between collections.
	sent := publishers * perPublisher * (len(payload) + 40)
	if grew > int64(sent) {
		t.Errorf("the heap grew by %d KiB while %d KiB were published to %d stalled subscribers; want it bounded by the limit (%d KiB each)",
			grew>>10, sent>>10, len(stalled), limit>>10)
	} else {
		t.Logf("heap peak +%d KiB; %d KiB published", grew>>10, sent>>10)
	}
}

// limitWatcher records each conn's output limit after every OnData.
type limitWatcher struct {
	*server
	limits chan int
}

func (h *limitWatcher) OnData(c *transport.Conn) {
	h.server.OnData(c)
	h.limits <- c.MaxQueued()
}

// A conn with subscriptions has the pubsub limit; its last UNSUBSCRIBE gives it
// back the limit it had.
func TestSubscriptionsCarryThePubsubLimit(t *testing.T) {
	const limit = 1 << 20
	h := &limitWatcher{server: newServer(newKeyspace(defaultStripes), limit), limits: make(chan int, 16)}
	c := dial(t, startServer(t, 1, h)[0])
	for _, step := range []struct {
		request, reply string
		limit          int
	}{
		{mb("SUBSCRIBE", "a"), subscription("subscribe", "a", 1), limit},
		{mb("PSUBSCRIBE", "b*"), subscription("psubscribe", "b*", 2), limit},
		{mb("UNSUBSCRIBE"), subscription("unsubscribe", "a", 1), limit},
		{mb("PUNSUBSCRIBE"), subscription("punsubscribe", "b*", 0), 0},
	} {
		c.do(step.request, step.reply)
		if got := testutil.Recv(t, h.limits, testWait, "OnData"); got != step.limit {
			t.Errorf("after %q the conn's limit is %d, want %d", step.request, got, step.limit)
		}
	}
}
