package transport

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/bufpool"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
)

// TLS record framing, as much of it as the loop needs to see.
const (
	recordHeaderLen     = 5
	recordTypeHandshake = 22
	// maxCiphertext is the largest record crypto/tls accepts (TLS 1.2's bound;
	// TLS 1.3's is smaller).
	maxCiphertext = 16384 + 2048
	// maxRecord is the most room one whole record needs.
	maxRecord = recordHeaderLen + maxCiphertext
)

// handshakeInputPause is how many bytes from the peer a handshake that has
// started (or waits for a slot) may hold unconsumed before the loop stops
// reading: a client may send its first request, even a large upload, right
// behind its Finished, while the handshake's goroutine is still busy. A
// variable for tests.
var handshakeInputPause = 64 << 10

// recordLen is the body length in the record header that starts b.
func recordLen(b []byte) int { return int(b[3])<<8 | int(b[4]) }

// handshake is a TLS conn's state while its handshake runs. The loop reads the
// peer's bytes into in and wakes the goroutine that runs crypto/tls's
// Handshake; that goroutine reads them from in (Read, below) and hands what it
// writes to the loop with Submit. mu guards in, inOff, recLeft and closed, the
// state the two goroutines share.
type handshake struct {
	mu      sync.Mutex
	in      *[]byte // bytes from the peer not yet served to crypto/tls (pooled)
	inOff   int
	recLeft int     // bytes left to serve of the record at in[inOff:]
	closed  bool    // the conn closed: the goroutine's Read fails
	inErr   error   // the peer's bytes ended (EOF, a reset): Read returns it once in is served
	paused  bool    // the loop stopped reading (in is full); Read, run dry, asks it to go on
	out     *[]byte // handshake output the kernel has not taken yet (pooled)
	outOff  int
	wake    chan struct{}

	started bool // the goroutine runs; it holds one of the TLS value's slots
	queued  bool // the conn waits for a slot
	ended   bool // inErr is set: the loop reads no more (loop goroutine only)
	// readPaused: the loop does not read, in holding handshakeInputPause bytes
	// or more (loop goroutine only).
	readPaused bool
	timer      loop.Timer
}

func newHandshake() *handshake {
	return &handshake{wake: make(chan struct{}, 1)}
}

// begin starts the handshake phase once the socket is connected: the timeout
// runs from here. A client starts its goroutine (it speaks first); a server
// waits for the ClientHello. Loop goroutine only.
func (s *tlsStream) begin(c *Conn) {
	c.state = Connecting
	if s.hs == nil {
		s.hs = newHandshake()
	}
	h := s.hs
	h.timer = c.l.AfterFunc(s.cfg.timeout(), func() {
		if c.state == Connecting && s.hs == h {
			c.finish(ErrHandshakeTimeout)
		}
	})
	if s.client {
		s.tryStart(c)
	}
	c.syncInterest()
}

// tryStart starts the handshake goroutine if a slot is free; otherwise the conn
// waits for one (handshakeSlot starts it). Loop goroutine only.
func (s *tlsStream) tryStart(c *Conn) {
	h := s.hs
	if h.started || h.queued {
		return
	}
	if s.cfg.slots.acquire(c) {
		s.startHandshake(c)
		return
	}
	h.queued = true
}

// startHandshake runs crypto/tls's Handshake on a goroutine of its own, which
// holds a slot until it ends; the result comes back to the loop with Submit.
// Loop goroutine only.
func (s *tlsStream) startHandshake(c *Conn) {
	h := s.hs
	h.started = true
	if cfg := s.cfg.Config; cfg.GetCertificate != nil || cfg.GetConfigForClient != nil {
		// They may ask the handshake's conn for its addresses, on the
		// goroutine: look them up here, on the loop.
		c.LocalAddr()
		c.RemoteAddr()
	}
	if s.client {
		s.tc = tls.Client(s, s.cfg.clientConfig(s.address))
	} else {
		h.mu.Lock()
		h.splitFirstRecord()
		h.mu.Unlock()
		s.tc = tls.Server(s, s.cfg.Config)
	}
	tc, slots := s.tc, s.cfg.slots
	go func() {
		defer slots.release()
		err := tc.Handshake()
		// If the loop has stopped, this is refused: the loop's close gives the
		// conn up, which ends the handshake's state.
		c.l.Submit(func() { s.handshakeDone(c, h, err) })
	}()
}

// splitAbove is the ClientHello record length from which splitFirstRecord
// halves it.
const splitAbove = 512

// splitFirstRecord re-frames the ClientHello's record, whole in h.in, as two
// records of half its length each. TLS lets a handshake message span records
// (RFC 8446, section 5.1), and crypto/tls keeps, for the conn's life, an input
// buffer as large as the largest record it has read plus 512 bytes: a
// ClientHello with a post-quantum key share is about 1.5 KiB, and halving its
// record saves about 830 bytes on every conn. (The buffer that reassembles
// handshake messages holds the whole ClientHello either way.) h.mu held.
func (h *handshake) splitFirstRecord() {
	in := (*h.in)[h.inOff:]
	n := recordLen(in)
	if n < splitAbove || recordHeaderLen+n > maxRecord {
		return
	}
	half := n / 2
	nb := bufpool.Get(len(in) + recordHeaderLen)
	b := append(*nb, in[:3]...) // content type and version
	b = append(b, byte(half>>8), byte(half))
	b = append(b, in[recordHeaderLen:recordHeaderLen+half]...)
	b = append(b, in[:3]...)
	b = append(b, byte((n-half)>>8), byte(n-half))
	*nb = append(b, in[recordHeaderLen+half:]...) // the rest, and what followed the record
	bufpool.Put(h.in)
	h.in, h.inOff = nb, 0
}

// handshakeEvent handles a poller event of a conn whose handshake runs: read
// what the peer sent for the goroutine (a server checks its first record
// first), write what the goroutine wrote. Loop goroutine only.
func (s *tlsStream) handshakeEvent(c *Conn, ev poller.Event) {
	if c.reg.WriteDeferred() {
		// A DeferWrite (or a Send) owes an OnWritable once the conn is open; the
		// handshake's events must not spend it, nor spin on it.
		s.owedWritable = true
	}
	if ev.Ready&(poller.Readable|poller.ReadHangup|poller.Hangup|poller.Error) != 0 {
		if !s.handshakeRead(c) {
			return
		}
	}
	if c.flags&streamHeld != 0 && ev.Ready&(poller.Writable|poller.Hangup|poller.Error) != 0 {
		s.handshakeFlush(c, s.hs)
	}
}

// handshakeRead reads what the peer sent into the handshake's input. A server
// whose handshake has not started looks at the first record: it must be a
// handshake record, and once it is whole the handshake starts. It reports
// whether the conn is still open. Loop goroutine only.
func (s *tlsStream) handshakeRead(c *Conn) bool {
	h := s.hs
	rb := c.l.ReadBuffer()
	n, err := sys.Retry(func() (int, error) { return sys.Read(int(c.fd), rb) })
	switch {
	case err == unix.EAGAIN:
		return true
	case err != nil:
		return s.handshakeInputEnded(c, fmt.Errorf("transport: read: %w", err))
	case n == 0:
		return s.handshakeInputEnded(c, io.ErrUnexpectedEOF)
	}
	c.l.CountIO(n, 0)
	h.mu.Lock()
	if h.in == nil {
		h.in = bufpool.Get(n)
	}
	if h.inOff > 0 {
		*h.in, h.inOff = (*h.in)[:copy(*h.in, (*h.in)[h.inOff:])], 0
	}
	h.in = bufpool.Grow(h.in, n)
	*h.in = append(*h.in, rb[:n]...)
	unserved := *h.in // only the loop writes into it
	h.mu.Unlock()
	if !h.started {
		switch {
		case unserved[0] != recordTypeHandshake:
			c.finish(ErrNotTLS)
			return false
		case len(unserved) >= recordHeaderLen && len(unserved) >= recordHeaderLen+recordLen(unserved):
			s.tryStart(c) // the whole ClientHello record is here
		}
	}
	if len(unserved) >= handshakeInputPause && (h.started || h.queued) {
		// Hold off: the goroutine asks for more (handshakeResume) if it runs
		// out before the handshake ends. Set before the goroutine is woken.
		h.mu.Lock()
		h.paused = true
		h.mu.Unlock()
		h.readPaused = true
	}
	if h.started {
		h.signal()
	}
	return true
}

// handshakeInputEnded handles the end of the peer's bytes (EOF, a reset) during
// the handshake. With no goroutine yet, the conn closes with it. A running
// handshake is told instead, and ends with crypto/tls's own account: a peer
// that closes on the alert our handshake sent (a certificate it did not
// verify, say) is reported with that reason, not as an EOF that raced it. The
// loop stops reading meanwhile; the handshake timeout still bounds the wait.
// It reports whether the conn is still open.
func (s *tlsStream) handshakeInputEnded(c *Conn, err error) bool {
	h := s.hs
	if !h.started {
		c.fail("tls handshake", err)
		return false
	}
	h.mu.Lock()
	h.inErr = err
	h.mu.Unlock()
	h.ended = true
	h.signal()
	return true
}

// write is the handshake goroutine's Write. With nothing waiting before it,
// it writes to the socket itself (non-blocking, under mu, which the loop takes
// to close the conn before its fd goes), so a flight the kernel takes whole
// costs the loop nothing. What the kernel does not take waits in out, and the
// loop, told once, writes it on Writable, in order: later writes append to it.
func (h *handshake) write(s *tlsStream, b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, net.ErrClosed
	}
	n := len(b)
	if h.out == nil {
		w, err := sys.Retry(func() (int, error) { return sys.Write(int(s.c.fd), b) })
		switch {
		case err == unix.EAGAIN:
		case err != nil:
			return 0, err // the loop sees the socket's error too
		default:
			b = b[w:]
		}
		if len(b) == 0 {
			return n, nil
		}
		h.out, h.outOff = bufpool.Get(len(b)), 0
		c := s.c
		if c.l.Submit(func() { s.handshakeFlush(c, h) }) != nil {
			return 0, net.ErrClosed
		}
	}
	h.out = bufpool.Grow(h.out, len(b))
	*h.out = append(*h.out, b...)
	return n, nil
}

// handshakeFlush writes the handshake output waiting in out, and watches
// Writable (streamHeld) until it is all written. Loop goroutine only.
func (s *tlsStream) handshakeFlush(c *Conn, h *handshake) {
	if c.state != Connecting || s.hs != h {
		return
	}
	h.mu.Lock()
	var err error
	if h.out != nil {
		var n int
		n, err = sys.Retry(func() (int, error) { return sys.Write(int(c.fd), (*h.out)[h.outOff:]) })
		if err == unix.EAGAIN {
			err = nil
		} else if err == nil {
			h.outOff += n
		}
		if h.outOff == len(*h.out) {
			bufpool.Put(h.out)
			h.out, h.outOff = nil, 0
		}
	}
	waiting := h.out != nil
	h.mu.Unlock()
	if err != nil {
		c.fail("write", err)
		return
	}
	if waiting {
		c.flags |= streamHeld
	} else {
		c.flags &^= streamHeld
	}
	c.syncInterest()
}

// handshakeDone takes the handshake's result on the loop: the conn opens, or
// closes with the error. Bytes the peer sent after its last handshake record
// (a request right behind the Finished) are read at once. Loop goroutine only.
func (s *tlsStream) handshakeDone(c *Conn, h *handshake, err error) {
	if c.state != Connecting || s.hs != h {
		return // the conn closed meanwhile
	}
	if err != nil {
		c.finish(fmt.Errorf("transport: tls handshake: %w", err))
		return
	}
	h.timer.Stop()
	h.mu.Lock()
	if h.in != nil && h.inOff < len(*h.in) {
		rest := (*h.in)[h.inOff:]
		s.pend = bufpool.Get(len(rest))
		*s.pend = append(*s.pend, rest...)
	}
	if h.out != nil {
		// The last flight's tail (session tickets, say) goes out before any
		// record of the conn's.
		s.queueOutput(c, (*h.out)[h.outOff:])
	}
	h.release()
	h.mu.Unlock()
	s.hs = nil
	c.state = Open
	if s.owedWritable {
		s.owedWritable = false
		c.reg.DeferWrite()
	}
	if s.pend != nil {
		c.flags |= streamReady // read at the round's end, as a Readable event would
		c.reg.AtRoundEnd()
	}
	c.open()
}

// handshakeInterest is what the poller watches during the handshake: the
// peer's bytes, and Writable while handshake output waits.
func (c *Conn) handshakeInterest() poller.Interest {
	var in poller.Interest
	if h := c.tlsLayer().hs; !h.ended && !h.readPaused {
		in = poller.Readable
	}
	if c.flags&streamHeld != 0 {
		in |= poller.Writable
	}
	return in
}

// signal wakes the goroutine if it waits for input.
func (h *handshake) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// close ends the handshake from the loop's side: the goroutine's next Read
// fails, and the input buffer goes back to the pool.
func (h *handshake) close() {
	h.mu.Lock()
	h.closed = true
	h.release()
	h.mu.Unlock()
	h.timer.Stop()
	h.signal()
}

// release returns the input and output buffers. h.mu held.
func (h *handshake) release() {
	if h.in != nil {
		bufpool.Put(h.in)
		h.in, h.inOff = nil, 0
	}
	if h.out != nil {
		bufpool.Put(h.out)
		h.out, h.outOff = nil, 0
	}
}

// read serves the handshake goroutine's Read: the peer's bytes, never past the
// end of the record at hand, so that crypto/tls holds no byte beyond the
// handshake when it ends (the loop then has them). It waits for input, asking
// a loop that paused its reading to go on.
func (h *handshake) read(s *tlsStream, b []byte) (int, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return 0, net.ErrClosed
		}
		n := 0
		if h.in != nil {
			n = serveRecord(b, *h.in, &h.inOff, &h.recLeft, false)
		}
		inErr := h.inErr
		h.mu.Unlock()
		if n > 0 {
			return n, nil
		}
		if inErr != nil {
			return 0, inErr
		}
		if h.takePause() {
			c := s.c
			if c.l.Submit(func() { s.handshakeResume(c, h) }) != nil {
				return 0, net.ErrClosed
			}
		}
		<-h.wake
	}
}

// takePause clears paused, reporting whether it was set.
func (h *handshake) takePause() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.paused
	h.paused = false
	return p
}

// handshakeResume makes the loop read again for a handshake that has consumed
// what it held. Loop goroutine only.
func (s *tlsStream) handshakeResume(c *Conn, h *handshake) {
	if c.state != Connecting || s.hs != h {
		return
	}
	h.readPaused = false
	c.syncInterest()
}

// serveRecord copies into b the next bytes of src[*off:], stopping at the end of
// the record being served. At a record boundary it starts the next record only
// once its header is in; with whole, only once the whole record is. It returns
// how many bytes it copied. An oversized record's header is served alone, for
// crypto/tls to refuse.
func serveRecord(b, src []byte, off, recLeft *int, whole bool) int {
	rest := src[*off:]
	if *recLeft == 0 {
		if len(rest) < recordHeaderLen {
			return 0
		}
		size := recordHeaderLen + recordLen(rest)
		switch {
		case size > maxRecord:
			size = recordHeaderLen
		case whole && len(rest) < size:
			return 0
		}
		*recLeft = size
	}
	n := copy(b, rest[:min(len(rest), *recLeft)])
	*off += n
	*recLeft -= n
	return n
}
