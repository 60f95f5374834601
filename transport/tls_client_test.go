//go:build linux

package transport_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

func TestTLSStreamCutWithoutCloseNotifyIsTruncated(t *testing.T) {
	h := newRecordingHandler()
	sink := newPlaintextSink()
	h.data = sink.onData
	_, addr := serveTLS(t, h, nil)
	tc, raw := dialTLSOver(t, addr, testutil.TLS(t).ClientConfig(), 0)
	h.accept(t)
	// The last record and the end of the stream come together: the record is
	// delivered, then the cut reported.
	const last = "the last record before the cut"
	if _, err := tc.Write([]byte(last)); err != nil {
		t.Fatalf("client write: %v", err)
	}
	if err := raw.CloseWrite(); err != nil { // a FIN under the tls.Conn: no close_notify
		t.Fatalf("CloseWrite: %v", err)
	}
	cl := h.waitClosed(t)
	if !errors.Is(cl.err, transport.ErrTruncated) {
		t.Fatalf("OnClose(%v) after a cut without close_notify, want ErrTruncated", cl.err)
	}
	if got := sink.await(t, len(last)); string(got) != last {
		t.Fatalf("the server read %q before the cut, want %q", got, last)
	}
}

func TestTLSCloseNotifyIsAnOrderlyClose(t *testing.T) {
	h := newRecordingHandler()
	sink := newPlaintextSink()
	h.data = sink.onData
	h.open = func(c *transport.Conn) { c.Write([]byte("hello")) }
	_, addr := serveTLS(t, h, nil)
	c := dialTLS(t, addr, nil)
	// Read what the server sent (and the session tickets before it): a client
	// that closes with unread bytes would reset the connection.
	hello := make([]byte, 5)
	if _, err := io.ReadFull(c, hello); err != nil {
		t.Fatalf("client read: %v", err)
	}
	const last = "the last record before close_notify"
	if _, err := c.Write([]byte(last)); err != nil {
		t.Fatalf("client write: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("client Close: %v", err)
	}
	cl := h.waitClosed(t)
	if cl.err != nil {
		t.Fatalf("OnClose(%v) after close_notify, want nil", cl.err)
	}
	if got := sink.await(t, len(last)); string(got) != last {
		t.Fatalf("the server read %q, want %q", got, last)
	}
}

// serveMutualTLS serves h over TLS asking for a client certificate signed by
// the fixture's CA.
func serveMutualTLS(t *testing.T, h transport.Handler) string {
	_, addr := serveTLS(t, h, func(c *transport.TLS) {
		c.Config.ClientAuth = tls.RequireAndVerifyClientCert
		c.Config.ClientCAs = testutil.TLS(t).Pool
	})
	return addr
}

func TestTLSMutualAuthServesAClientWithACertificate(t *testing.T) {
	h := newRecordingHandler()
	h.data = echoAll
	states := recordStates(h)
	addr := serveMutualTLS(t, h)
	cfg := testutil.TLS(t).ClientConfig()
	cfg.Certificates = []tls.Certificate{testutil.TLS(t).Client}
	c := dialTLS(t, addr, cfg)
	expectEcho(t, c, "with a client certificate")
	st := testutil.Recv(t, states, waitFor, "OnOpen")
	if !st.ok || len(st.state.PeerCertificates) == 0 {
		t.Fatalf("server ConnectionState: ok %v, %d peer certificates; want the client's", st.ok, len(st.state.PeerCertificates))
	}
	if cn := st.state.PeerCertificates[0].Subject.CommonName; cn != "sycamore test client" {
		t.Fatalf("the server sees peer certificate %q, want the client's", cn)
	}
	if len(st.state.VerifiedChains) == 0 {
		t.Fatal("the server did not verify the client's certificate")
	}
}

func TestTLSMutualAuthRejectsAClientWithoutCertificate(t *testing.T) {
	h := newRecordingHandler()
	addr := serveMutualTLS(t, h)
	raw := dial(t, addr, 0)
	c := tls.Client(raw, testutil.TLS(t).ClientConfig())
	defer c.Close()
	// In TLS 1.3 the client's handshake ends before the server has checked its
	// certificate: the refusal comes as an alert on its first read.
	err := c.Handshake()
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
	cl := h.waitClosed(t)
	if cl.err == nil {
		t.Fatal("OnClose(nil) for a client without a certificate, want the handshake's error")
	}
	t.Logf("server: %v; client: %v", cl.err, err)
	noOpen(t, h)
}

func TestTLSSessionResumes(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			h := newRecordingHandler()
			h.data = echoAll
			states := recordStates(h)
			_, addr := serveTLS(t, h, func(c *transport.TLS) { c.Config.MaxVersion = version })
			cfg := testutil.TLS(t).ClientConfig()
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for i, want := range []bool{false, true} {
				c := dialTLS(t, addr, cfg)
				// The echo comes behind the session ticket: reading it stores the
				// ticket in the cache.
				expectEcho(t, c, fmt.Sprintf("connection %d", i+1))
				st := testutil.Recv(t, states, waitFor, "OnOpen")
				if got := c.ConnectionState().DidResume; got != want {
					t.Errorf("connection %d: client DidResume %v, want %v", i+1, got, want)
				}
				if !st.ok || st.state.DidResume != want {
					t.Errorf("connection %d: server ConnectionState ok %v, DidResume %v; want DidResume %v", i+1, st.ok, st.state.DidResume, want)
				}
				if st.state.Version != version {
					t.Errorf("connection %d: version %s, want %s", i+1, tls.VersionName(st.state.Version), tls.VersionName(version))
				}
				c.Close()
				h.waitClosed(t)
			}
		})
	}
}

func TestTLSGetCertificateChoosesBySNIAndALPNNegotiates(t *testing.T) {
	fixture := testutil.TLS(t)
	leaves := map[string]tls.Certificate{
		"a.example": fixture.Leaf(t, 100, "a.example"),
		"b.example": fixture.Leaf(t, 101, "b.example"),
	}
	h := newRecordingHandler()
	h.data = echoAll
	states := recordStates(h)
	_, addr := serveTLS(t, h, func(c *transport.TLS) {
		c.Config = &tls.Config{
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				cert, ok := leaves[hello.ServerName]
				if !ok {
					return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
				}
				return &cert, nil
			},
			NextProtos: []string{"h2", "http/1.1"},
		}
	})
	for _, tc := range []struct{ name, proto string }{ // each is served, then stays open
		{"a.example", "h2"},
		{"b.example", "http/1.1"},
		{"a.example", "http/1.1"},
	} {
		cfg := &tls.Config{RootCAs: fixture.Pool, ServerName: tc.name, NextProtos: []string{tc.proto}}
		c := dialTLS(t, addr, cfg) // verifies the certificate against tc.name
		expectEcho(t, c, tc.name+" "+tc.proto)
		cs := c.ConnectionState()
		if got := cs.PeerCertificates[0].Subject.CommonName; got != tc.name {
			t.Errorf("asked for %s, got the certificate of %s", tc.name, got)
		}
		if cs.NegotiatedProtocol != tc.proto {
			t.Errorf("client negotiated %q, want %q", cs.NegotiatedProtocol, tc.proto)
		}
		h.accept(t)
		st := testutil.Recv(t, states, waitFor, "OnOpen")
		if !st.ok || st.state.ServerName != tc.name || st.state.NegotiatedProtocol != tc.proto {
			t.Errorf("server ConnectionState: ok %v, ServerName %q, protocol %q; want %q, %q",
				st.ok, st.state.ServerName, st.state.NegotiatedProtocol, tc.name, tc.proto)
		}
	}

	// A name with no certificate fails the handshake on the server.
	d := &net.Dialer{Timeout: waitFor}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: fixture.Pool, ServerName: "c.example"})
	if err == nil {
		c.Close()
		t.Fatal("a client asking for a name with no certificate was served")
	}
	// The served clients close when the test ends: this is the first OnClose.
	if cl := h.waitClosed(t); cl.err == nil {
		t.Fatal("OnClose(nil) for a server name with no certificate, want the handshake's error")
	}
	noOpen(t, h)
}

func TestTLSLargeWriteSpansRecordsUnderBackpressure(t *testing.T) {
	const total = 8 << 20
	payload := randomPattern(8, total)
	h := newRecordingHandler()
	h.open = func(c *transport.Conn) {
		setSndBuf(t, c, smallBuf)
		c.Write(payload)
	}
	l, addr := serveTLS(t, h, nil)
	client, _ := dialTLSOver(t, addr, testutil.TLS(t).ClientConfig(), smallBuf)
	sc := h.accept(t)
	// The client has read nothing yet: almost all of it waits in the queue.
	var queued int
	onLoop(t, l, func() { queued = sc.Queued() })
	if queued < total/2 {
		t.Errorf("%d bytes queued after the first flush, want most of %d (small kernel buffers)", queued, total)
	}
	got := make([]byte, total)
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("the client read different bytes than the server wrote")
	}
}

func TestTLSAsyncWritesFromGoroutinesUnderBackpressure(t *testing.T) {
	const (
		writers   = 8
		perWriter = 16
		chunk     = 64 << 10 // 8 MiB in all
	)
	h := newRecordingHandler()
	h.open = func(c *transport.Conn) { setSndBuf(t, c, smallBuf) }
	_, addr := serveTLS(t, h, nil)
	client, _ := dialTLSOver(t, addr, testutil.TLS(t).ClientConfig(), smallBuf)
	sc := h.accept(t)

	// Each chunk names its writer and sequence number in its first 8 bytes; the
	// rest is a pattern seeded by them.
	makeChunk := func(id uint64) []byte {
		p := randomPattern(id, chunk)
		binary.LittleEndian.PutUint64(p, id)
		return p
	}
	dones := make(chan error, writers*perWriter)
	var wg sync.WaitGroup
	for w := uint64(0); w < writers; w++ {
		wg.Go(func() {
			for seq := uint64(0); seq < perWriter; seq++ {
				if err := sc.AsyncWrite(makeChunk(w<<32|seq), func(err error) { dones <- err }); err != nil {
					t.Errorf("AsyncWrite: %v", err)
				}
			}
		})
	}

	next := make([]uint64, writers) // each writer's chunks arrive in its order
	buf := make([]byte, chunk)
	for i := 0; i < writers*perWriter; i++ {
		if _, err := io.ReadFull(client, buf); err != nil {
			t.Fatalf("client read of chunk %d: %v", i, err)
		}
		id := binary.LittleEndian.Uint64(buf)
		w, seq := id>>32, id&(1<<32-1)
		if w >= writers || seq != next[w] {
			t.Fatalf("chunk %d is writer %d's number %d; want writers below %d, each in order", i, w, seq, writers)
		}
		next[w]++
		if !bytes.Equal(buf, makeChunk(id)) {
			t.Fatalf("chunk %d (writer %d, number %d) differs from what was written", i, w, seq)
		}
	}
	wg.Wait()
	for i := 0; i < writers*perWriter; i++ {
		if err := testutil.Recv(t, dones, waitFor, "an AsyncWrite's done"); err != nil {
			t.Errorf("AsyncWrite done(%v), want nil", err)
		}
	}
}

// startCryptoTLSEcho runs a crypto/tls echo server with cfg until the test
// ends and returns its address.
func startCryptoTLSEcho(t *testing.T, cfg *tls.Config) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("tls.Listen: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			c.SetDeadline(time.Now().Add(2 * waitFor))
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	})
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

func TestTLSDialHandshakesWithACryptoTLSServer(t *testing.T) {
	addr := startCryptoTLSEcho(t, testutil.TLS(t).ServerConfig())
	l := startLoop(t, logLoopErrors(t))
	onLoop(t, l, func() {}) // the loop runs: Dial below is off its goroutine
	h := newRecordingHandler()
	sink := newPlaintextSink()
	h.data = sink.onData
	states := recordStates(h)
	// No ServerName: it defaults to the host dialled, an IP address the
	// server's certificate names.
	cfg := transport.Config{TLS: &transport.TLS{Config: &tls.Config{RootCAs: testutil.TLS(t).Pool}}}
	c, err := transport.Dial(l, "tcp", addr, h, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	st := testutil.Recv(t, states, waitFor, "OnOpen")
	if !st.ok || !st.state.HandshakeComplete || st.state.Version != tls.VersionTLS13 {
		t.Fatalf("ConnectionState in OnOpen: ok %v, complete %v, version %x", st.ok, st.state.HandshakeComplete, st.state.Version)
	}
	if cn := st.state.PeerCertificates[0].Subject.CommonName; cn != "localhost" {
		t.Fatalf("server certificate %q, want the fixture's", cn)
	}
	msg := randomPattern(11, 100<<10)
	if err := c.AsyncWrite(msg, nil); err != nil {
		t.Fatalf("AsyncWrite: %v", err)
	}
	if got := sink.await(t, len(msg)); !bytes.Equal(got, msg) {
		t.Fatal("the echo differs from what was written")
	}
	onLoop(t, l, func() { c.Close() })
	if cl := h.waitClosed(t); cl.err != nil {
		t.Fatalf("OnClose(%v) after Close, want nil", cl.err)
	}
}

// dialUntrusting dials addr on l with a TLS client that trusts no CA.
func dialUntrusting(t *testing.T, l *loop.Loop, addr string, h transport.Handler) {
	t.Helper()
	untrusting := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"}
	if _, err := transport.Dial(l, "tcp", addr, h, transport.Config{TLS: &transport.TLS{Config: untrusting}}); err != nil {
		t.Fatalf("Dial: %v", err)
	}
}

func TestTLSDialRejectsAnUntrustedServer(t *testing.T) {
	addr := startCryptoTLSEcho(t, testutil.TLS(t).ServerConfig())
	l := startLoop(t, logLoopErrors(t))
	onLoop(t, l, func() {}) // the loop runs: Dial below is off its goroutine
	h := newRecordingHandler()
	dialUntrusting(t, l, addr, h)
	if cl := h.waitClosed(t); cl.err == nil {
		t.Fatal("OnClose(nil) for a server with an untrusted certificate, want the handshake's error")
	}
	noOpen(t, h)
}

// TestTLSDialReportsWhyTheServerIsUntrusted: the error OnClose gets is the
// certificate's, every time; twenty dials, as the failure is a race.
func TestTLSDialReportsWhyTheServerIsUntrusted(t *testing.T) {
	addr := startCryptoTLSEcho(t, testutil.TLS(t).ServerConfig())
	l := startLoop(t, logLoopErrors(t))
	onLoop(t, l, func() {})
	h := newRecordingHandler()
	for i := 0; i < 20; i++ {
		dialUntrusting(t, l, addr, h)
		cl := h.waitClosed(t)
		var unknown x509.UnknownAuthorityError
		if !errors.As(cl.err, &unknown) {
			t.Fatalf("dial %d: OnClose(%v), want an x509.UnknownAuthorityError", i+1, cl.err)
		}
	}
	noOpen(t, h)
}

func TestTLSDialWritesBeforeOpenArriveAfterTheHandshake(t *testing.T) {
	addr := startCryptoTLSEcho(t, testutil.TLS(t).ServerConfig())
	l := startLoop(t, logLoopErrors(t))
	h := newRecordingHandler()
	sink := newPlaintextSink()
	h.data = sink.onData
	h.open = func(c *transport.Conn) { c.Write([]byte("in OnOpen")) }
	cfg := transport.Config{TLS: &transport.TLS{Config: testutil.TLS(t).ClientConfig()}}
	var state transport.State
	onLoop(t, l, func() {
		c, err := transport.Dial(l, "tcp", addr, h, cfg)
		if err != nil {
			t.Errorf("Dial: %v", err)
			return
		}
		state = c.State()
		c.Write([]byte("while connecting, "))
	})
	if state != transport.Connecting {
		t.Fatalf("a dialled TLS conn is %v, want connecting", state)
	}
	const want = "while connecting, in OnOpen"
	if got := sink.await(t, len(want)); string(got) != want {
		t.Fatalf("the server echoed %q, want %q", got, want)
	}
}

// pikeEcho echoes with the pike API: Recv until it would block, then Send what
// it has, going on from OnWritable when Send takes nothing.
type pikeEcho struct {
	transport.BaseHandler
	t           testing.TB
	pending     []byte
	buf         []byte
	received    atomic.Int64 // bytes Recv returned
	sendBlocked atomic.Int64 // Sends that returned 0
	problem     atomic.Pointer[string]
}

func (p *pikeEcho) OnOpen(c *transport.Conn) { setSndBuf(p.t, c, smallBuf) }

func (p *pikeEcho) OnData(c *transport.Conn) {
	for {
		n, err := c.Recv(p.buf)
		p.pending = append(p.pending, p.buf[:n]...)
		p.received.Add(int64(n))
		if n == 0 || err != nil {
			break
		}
	}
	p.send(c)
}

func (p *pikeEcho) OnWritable(c *transport.Conn) { p.send(c) }

func (p *pikeEcho) send(c *transport.Conn) {
	for len(p.pending) > 0 {
		n, err := c.Send(p.pending)
		switch {
		case err != nil:
			return
		case n == 0:
			p.sendBlocked.Add(1)
			return // OnWritable follows
		case n != len(p.pending):
			s := fmt.Sprintf("Send over TLS took %d of %d bytes, want all or none", n, len(p.pending))
			p.problem.Store(&s)
		}
		p.pending = p.pending[n:]
	}
}

func TestTLSRecvAndSendEcho(t *testing.T) {
	p := &pikeEcho{t: t, buf: make([]byte, 4<<10)}
	_, addr := serveTLS(t, p, nil)
	client := dialTLS(t, addr, nil)
	// Messages of one record and of several, each read by the server's Recv in
	// 4 KiB pieces: the first from what OnData's read left, the rest read by
	// Recv itself.
	for i, size := range []int{1, 100, 4 << 10, 16<<10 + 1, 40 << 10} {
		msg := randomPattern(uint64(20+i), size)
		if _, err := client.Write(msg); err != nil {
			t.Fatalf("client write: %v", err)
		}
		got := make([]byte, size)
		if _, err := io.ReadFull(client, got); err != nil {
			t.Fatalf("client read of the echo of %d bytes: %v", size, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("the echo of %d bytes differs from what was sent", size)
		}
	}
	if s := p.problem.Load(); s != nil {
		t.Fatal(*s)
	}
}

func TestTLSSendThatFindsRecordsPendingGoesOnFromOnWritable(t *testing.T) {
	const half = 512 << 10
	p := &pikeEcho{t: t, buf: make([]byte, 4<<10)}
	_, addr := serveTLS(t, p, nil)
	client, _ := dialTLSOver(t, addr, testutil.TLS(t).ClientConfig(), smallBuf)
	msg := randomPattern(12, 2*half)
	// The client reads nothing until it has written all. Once the server has
	// the first half, most of its echo waits behind full kernel buffers, so
	// the Send of the second half finds it pending and returns 0, and the rest
	// goes out from OnWritable.
	if _, err := client.Write(msg[:half]); err != nil {
		t.Fatalf("client write: %v", err)
	}
	testutil.Eventually(t, waitFor, func() bool { return p.received.Load() == half },
		"the server has Recv'd %d of the first %d bytes", p.received.Load(), half)
	if _, err := client.Write(msg[half:]); err != nil {
		t.Fatalf("client write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if !bytes.Equal(got, msg) {
		i := 0
		for got[i] == msg[i] {
			i++
		}
		t.Fatalf("the echo differs from what was sent from byte %d on (the bytes there are those sent at %d)", i, bytes.Index(msg, got[i:min(len(got), i+64)]))
	}
	if s := p.problem.Load(); s != nil {
		t.Fatal(*s)
	}
	if p.sendBlocked.Load() == 0 {
		t.Error("no Send returned 0: the test did not reach the OnWritable path")
	}
}

func TestTLSCloseWriteSendsCloseNotifyAndKeepsReading(t *testing.T) {
	h := newRecordingHandler()
	sink := newPlaintextSink()
	h.data = sink.onData
	h.open = func(c *transport.Conn) {
		c.Write([]byte("before close_notify"))
		c.CloseWrite()
	}
	l, addr := serveTLS(t, h, nil)
	client, raw := dialTLSOver(t, addr, testutil.TLS(t).ClientConfig(), 0)
	got, err := io.ReadAll(client) // up to close_notify, read as io.EOF
	if err != nil || string(got) != "before close_notify" {
		t.Fatalf("client read %q, %v; want %q, then close_notify", got, err, "before close_notify")
	}
	// The socket's write side is shut behind the close_notify.
	if n, err := raw.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("raw read after close_notify: %d, %v; want EOF", n, err)
	}
	sc := h.accept(t)
	var writeErr error
	onLoop(t, l, func() { _, writeErr = sc.Write([]byte("x")) })
	if !errors.Is(writeErr, transport.ErrWriteShut) {
		t.Fatalf("Write after CloseWrite: %v, want ErrWriteShut", writeErr)
	}

	const after = "sent after the server's close_notify"
	if _, err := client.Write([]byte(after)); err != nil {
		t.Fatalf("client write after close_notify: %v", err)
	}
	if got := sink.await(t, len(after)); string(got) != after {
		t.Fatalf("the server read %q, want %q", got, after)
	}
	client.Close()
	if cl := h.waitClosed(t); cl.err != nil {
		t.Fatalf("OnClose(%v) after the client's close_notify, want nil", cl.err)
	}
}
