package transport

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// TLS makes conns speak TLS with crypto/tls. Set it in Config.TLS: conns that a
// Listener accepts, and those made with NewConn and Adopt, are servers; conns
// made with Dial are clients. One TLS value is shared by every conn that uses
// it (a listener's, an engine's) and bounds their handshakes together; do not
// copy it once in use.
//
// The handshake runs on a goroutine of its own, fed by the loop: the loop reads
// the peer's bytes and writes the goroutine's, so crypto/tls's blocking
// Handshake never blocks a loop, and the goroutine never holds a worker of the
// offload pool. A server starts that goroutine only once a whole first record
// (the ClientHello) has arrived; until then a conn costs no goroutine, and one
// whose first byte is not a TLS handshake record (plaintext, garbage) is closed
// at once with ErrNotTLS. After the handshake, records are decrypted and
// encrypted on the loop, and the handler sees plaintext through the usual API:
// OnOpen runs once the handshake is done, and a failed handshake reports
// through OnClose (with no OnOpen before it).
//
// Close sends close_notify after the queued bytes; a peer that ends the stream
// without one is reported to OnClose as ErrTruncated. Session resumption,
// GetCertificate (certificate reload, SNI), client certificates, ALPN and
// KeyUpdate work as crypto/tls does them; ConnectionState reports the result.
type TLS struct {
	// Config is the crypto/tls configuration: Certificates or GetCertificate for
	// a server (ClientAuth and ClientCAs for mTLS, NextProtos for ALPN), RootCAs
	// for a client. A client's ServerName defaults to the host Dial was given.
	Config *tls.Config
	// MaxHandshakes bounds the handshakes in progress at once, over every conn
	// that uses this TLS: each holds a goroutine. Beyond it, conns whose
	// handshake could start wait, in order, for one to end; their handshake
	// timeout runs meanwhile. 0 means DefaultMaxHandshakes.
	MaxHandshakes int
	// HandshakeTimeout bounds a handshake, from the accept (or the connect) to
	// its end; a conn over it closes with ErrHandshakeTimeout. 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	once  sync.Once
	slots *handshakeSlots
}

const (
	// DefaultMaxHandshakes is TLS.MaxHandshakes' default.
	DefaultMaxHandshakes = 1024
	// DefaultHandshakeTimeout is TLS.HandshakeTimeout's default.
	DefaultHandshakeTimeout = 10 * time.Second
)

var (
	// ErrNotTLS: a peer of a TLS server began with something other than a TLS
	// handshake record (plaintext HTTP, say).
	ErrNotTLS = errors.New("transport: tls: peer did not start a TLS handshake")
	// ErrHandshakeTimeout: the handshake did not end within the handshake timeout.
	ErrHandshakeTimeout = errors.New("transport: tls: handshake timeout")
	// ErrTruncated: the peer ended the stream without close_notify, so what it
	// sent may have been cut short.
	ErrTruncated = errors.New("transport: tls: stream ended without close_notify")
)

func (t *TLS) init() {
	t.once.Do(func() {
		n := t.MaxHandshakes
		if n <= 0 {
			n = DefaultMaxHandshakes
		}
		t.slots = &handshakeSlots{free: n}
	})
}

func (t *TLS) timeout() time.Duration {
	if t.HandshakeTimeout > 0 {
		return t.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// check reports a TLS value that cannot work, when the conn is made.
func (t *TLS) check() error {
	if t.Config == nil {
		return errors.New("transport: TLS.Config is nil")
	}
	return nil
}

// clientConfig returns the configuration a client dialling address uses: the
// ServerName defaults to address's host, as crypto/tls.Dial does.
func (t *TLS) clientConfig(address string) *tls.Config {
	cfg := t.Config
	if cfg.ServerName != "" || cfg.InsecureSkipVerify {
		return cfg
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	cfg = cfg.Clone()
	cfg.ServerName = host
	return cfg
}

// ConnectionState returns the TLS state of a TLS conn whose handshake is done:
// the version, the negotiated ALPN protocol, the server name the client asked
// for (SNI), the peer's certificates, whether the session was resumed. ok is
// false for a plain conn, and before OnOpen. Loop goroutine only.
func (c *Conn) ConnectionState() (state tls.ConnectionState, ok bool) {
	c.checkOwner("transport.Conn.ConnectionState")
	s := c.tlsLayer()
	if s == nil || s.tc == nil || s.hs != nil {
		return tls.ConnectionState{}, false
	}
	return s.tc.ConnectionState(), true
}

// handshaking reports whether the conn's TLS handshake runs.
func (c *Conn) handshaking() bool {
	s := c.tlsLayer()
	return s != nil && s.hs != nil
}

// tlsLayer returns the conn's TLS stream, or nil for a plain conn.
func (c *Conn) tlsLayer() *tlsStream {
	if x := c.extra; x != nil {
		s, _ := x.io.(*tlsStream)
		return s
	}
	return nil
}

// handshakeSlots bounds the handshake goroutines of one TLS value. A conn that
// finds none free waits in FIFO order; the goroutine that ends hands its slot to
// the first waiter, on the waiter's loop.
type handshakeSlots struct {
	mu      sync.Mutex
	free    int
	waiting []*Conn
}

// acquire takes a slot for c, or queues c and reports false: c's handshake then
// starts when a slot is handed to it. Loop goroutine of c.
func (h *handshakeSlots) acquire(c *Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.free > 0 {
		h.free--
		return true
	}
	h.waiting = append(h.waiting, c)
	return false
}

// release gives a slot back: to the first waiter whose loop takes it, or to the
// pool. Any goroutine.
func (h *handshakeSlots) release() {
	for {
		h.mu.Lock()
		if len(h.waiting) == 0 {
			h.free++
			h.mu.Unlock()
			return
		}
		c := h.waiting[0]
		h.waiting[0] = nil
		h.waiting = h.waiting[1:]
		h.mu.Unlock()
		if c.l.Submit(func() { c.handshakeSlot(h) }) == nil {
			return
		}
		// That loop has stopped (and closed the conn): try the next waiter.
	}
}

// handshakeSlot runs on c's loop when a slot is handed to it: start the
// handshake, or pass the slot on if c closed while it waited.
func (c *Conn) handshakeSlot(h *handshakeSlots) {
	s := c.tlsLayer()
	if c.state != Connecting || s == nil || s.hs == nil {
		h.release()
		return
	}
	s.startHandshake(c)
}
