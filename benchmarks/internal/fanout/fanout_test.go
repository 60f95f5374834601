package fanout

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
	"github.com/sycamore-go/sycamore/internal/testutil"
)

// TestMain fails the run if a test leaves a goroutine or a conn behind.
func TestMain(m *testing.M) { testutil.VerifyMain(m) }

func TestMessageNamesItsPublisherAndSequence(t *testing.T) {
	m := newMessage(37, 0)
	putSeq(m, 1234567)
	if len(m) != MessageSize || !strings.HasPrefix(string(m), "0037 0000000001234567 fanout-message-") {
		t.Fatalf("message %q", m)
	}
	id, seq, err := parseMessage(m)
	if err != nil || id != 37 || seq != 1234567 {
		t.Fatalf("parseMessage = %d, %d, %v; want 37, 1234567", id, seq, err)
	}
}

func TestParseMessageRejectsWhatIsNotOurs(t *testing.T) {
	good := newMessage(1, 2)
	short := good[:MessageSize-1]
	letters := bytes.Replace(bytes.Clone(good), []byte("0001"), []byte("00x1"), 1)
	for _, m := range [][]byte{short, letters, []byte(strings.Repeat("x", MessageSize))} {
		if _, _, err := parseMessage(m); !errors.Is(err, ErrProtocol) {
			t.Errorf("parseMessage(%q) = %v, want ErrProtocol", m, err)
		}
	}
}

func TestErrorReplyIsQuoted(t *testing.T) {
	rd := newRESPReader(strings.NewReader("-ERR unknown command 'SUBSCRIBE'\r\n"))
	err := rd.subscribed([]byte("fanout"))
	if !errors.Is(err, ErrServerReply) || !strings.Contains(err.Error(), "unknown command 'SUBSCRIBE'") {
		t.Fatalf("subscribed = %v, want ErrServerReply quoting the reply", err)
	}
}

// pushedMessage is a message frame as Redis pushes it.
func pushedMessage(channel string, id int, seq uint64) []byte {
	return command([]byte("message"), []byte(channel), newMessage(id, seq))
}

func TestReaderStopsAtAMissingMessage(t *testing.T) {
	var stream []byte
	for _, seq := range []uint64{0, 1, 3} {
		stream = append(stream, pushedMessage("ch", 0, seq)...)
	}
	rd := newReader(&subscriber{rd: newRESPReader(bytes.NewReader(stream))}, 1)
	var total atomic.Int64
	rd.run([]byte("ch"), &total)
	if !errors.Is(rd.err, ErrOutOfOrder) || rd.received.Load() != 2 {
		t.Fatalf("reader stopped with %v after %d messages, want ErrOutOfOrder after 2", rd.err, rd.received.Load())
	}
}

func TestReaderRejectsAMessageOnAnotherChannel(t *testing.T) {
	rd := newReader(&subscriber{rd: newRESPReader(bytes.NewReader(pushedMessage("other", 0, 0)))}, 1)
	var total atomic.Int64
	rd.run([]byte("ch"), &total)
	if !errors.Is(rd.err, ErrProtocol) {
		t.Fatalf("reader stopped with %v, want ErrProtocol", rd.err)
	}
}

func TestSubscribeToAServerWithoutPubSubFailsWithItsReply(t *testing.T) {
	addr := fakeServer(t, func(cmd [][]byte) []byte { return []byte("-ERR unknown command '" + string(cmd[0]) + "'\r\n") })
	_, err := Subscribe(testContext(t), Load{Addr: addr, Readers: 1, Publishers: 1, Depth: 1, Duration: time.Millisecond})
	if !errors.Is(err, ErrServerReply) || !strings.Contains(err.Error(), "SUBSCRIBE") {
		t.Fatalf("Subscribe = %v, want ErrServerReply naming SUBSCRIBE", err)
	}
}

// A PUBLISH that reaches fewer subscribers than there are readers means the
// server dropped one: the run fails at once, whatever the messages say.
func TestPublishFailsWhenFewerSubscribersThanReadersGetIt(t *testing.T) {
	addr := fakeServer(t, func(cmd [][]byte) []byte {
		if string(cmd[0]) == "SUBSCRIBE" {
			return subscribeConfirmation(cmd[1])
		}
		return []byte(":1\r\n")
	})
	ctx := testContext(t)
	run, err := Subscribe(ctx, Load{Addr: addr, Readers: 2, Publishers: 1, Depth: 2, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if _, err := run.Publish(ctx); !errors.Is(err, ErrReaderDropped) {
		t.Fatalf("Publish = %v, want ErrReaderDropped", err)
	}
}

func TestEveryReaderGetsEveryMessageInOrderFromRedis(t *testing.T) {
	p := redisServer(t, "pubsub 32mb 8mb 60") // Redis's default
	ctx := testContext(t)
	run, err := Subscribe(ctx, Load{Addr: p.Addr, Readers: 8, Publishers: 3, Depth: 4, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	res, err := run.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Published == 0 || res.Delivered != 8*res.Published || res.DeliverTime < res.PublishTime {
		t.Fatalf("Publish = %+v, want messages, each delivered 8 times", res)
	}
	t.Logf("%.0f publishes/s, %.0f delivered/s", res.PublishesPerSecond(), res.DeliveredPerSecond())
}

func TestNonReadingSubscribersAreDisconnectedAtRedisLimit(t *testing.T) {
	p := redisServer(t, "pubsub 256kb 0 0")
	ctx := testContext(t)
	run, err := Subscribe(ctx, Load{Addr: p.Addr, Readers: 2, Stalled: 4, Publishers: 2, Depth: 16, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if _, err := run.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if gone, err := run.Disconnected(ctx); gone != 4 || err != nil {
		t.Fatalf("Disconnected = %d, %v; want 4, nil", gone, err)
	}
}

func TestNonReadingSubscriberUnderNoLimitCountsAsConnected(t *testing.T) {
	p := redisServer(t, "pubsub 0 0 0") // no limit
	ctx := testContext(t)
	run, err := Subscribe(ctx, Load{Addr: p.Addr, Readers: 1, Stalled: 1, Publishers: 1, Depth: 1,
		Duration: 50 * time.Millisecond, Quiet: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if _, err := run.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if gone, err := run.Disconnected(ctx); gone != 0 || !errors.Is(err, ErrStillConnected) {
		t.Fatalf("Disconnected = %d, %v; want 0, ErrStillConnected", gone, err)
	}
}

// testContext bounds a test's run: every test here takes a few seconds at
// most.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// redisServer starts redis-server with the given pubsub output limit, or
// skips the test without one.
func redisServer(t *testing.T, pubsubLimit string) *harness.Proc {
	t.Helper()
	s, ok := harness.RedisServer()
	if !ok {
		t.Skip("redis-server is not on PATH (apt-get install redis-server)")
	}
	s.Args = append(s.Args, "--client-output-buffer-limit", pubsubLimit)
	return harness.StartTest(t, s)
}

// fakeServer serves RESP commands on a loopback port with reply, which gets
// each command's words. It stops, conns and all, when the test ends.
func fakeServer(t *testing.T, reply func(cmd [][]byte) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveFake(c, reply)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// subscribeConfirmation is SUBSCRIBE's reply as Redis sends it to a conn's
// first subscription.
func subscribeConfirmation(channel []byte) []byte {
	b := append([]byte("*3\r\n"), bulk(nil, []byte("subscribe"))...)
	return append(bulk(b, channel), ":1\r\n"...)
}

func serveFake(c net.Conn, reply func(cmd [][]byte) []byte) {
	rd := newRESPReader(c)
	w := bufio.NewWriter(c)
	for {
		n, err := rd.header('*')
		if err != nil {
			return
		}
		cmd := make([][]byte, n)
		for i := range cmd {
			b, err := rd.bulk()
			if err != nil {
				return
			}
			cmd[i] = bytes.Clone(b)
		}
		w.Write(reply(cmd))
		if rd.br.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}
