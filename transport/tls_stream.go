package transport

import (
	"crypto/tls"
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/bufpool"
	"github.com/sycamore-go/sycamore/internal/sys"
)

// tlsWriteChunk is how much queued plaintext one tls.Conn.Write encrypts: the
// ciphertext of at most this much waits in the stream when the kernel is full.
const tlsWriteChunk = 64 << 10

// tlsStream is a TLS conn's stream: crypto/tls's record layer, driven by the
// loop once the handshake is done. It is also the net.Conn under the tls.Conn,
// and never blocks there: Read serves whole records from the ciphertext that the
// loop has read, or a temporary net.Error (crypto/tls keeps no such error, see
// readRecordOrCCS), and Write appends to the ciphertext queue that the loop
// writes. During the handshake, the same methods serve the handshake's
// goroutine instead (see handshake).
type tlsStream struct {
	c       *Conn
	cfg     *TLS
	tc      *tls.Conn  // made when the handshake starts
	hs      *handshake // while the handshake runs
	address string     // a client's Dial address: its ServerName by default
	client  bool

	// Input. cin is the ciphertext one read holds (a window on the bytes the
	// conn reads into, decrypted in place: a record's plaintext is shorter than
	// the record, so it never overtakes the ciphertext still to be read); it is
	// served to crypto/tls one whole record at a time, so crypto/tls holds no
	// input between reads. pend keeps an incomplete record until the next read.
	cin       []byte
	cinOff    int
	recLeft   int
	pend      *[]byte
	eof       bool // the socket reached the end of its stream
	eofServed bool // crypto/tls was told so: an io.EOF it returns is not close_notify

	// Output. ct is ciphertext not yet in the kernel (pooled); the first held
	// bytes of the write queue are encrypted in it already, and count as written
	// once it is (so AsyncWrite's done still means "in the kernel").
	ct        *[]byte
	ctOff     int
	held      int
	notified  bool // close_notify is sent (or queued)
	shutAfter bool // shut the socket's write side once ct is written

	owedWritable bool // an OnWritable was asked for during the handshake
}

// newTLSStream makes the stream of a conn made with cfg.
func newTLSStream(c *Conn, cfg *TLS, client bool) *tlsStream {
	cfg.init()
	return &tlsStream{c: c, cfg: cfg, client: client}
}

// read decrypts what the socket has into p (see stream): one read(2) after the
// bytes kept from before, then every whole record of it. The bytes kept may be
// more than p holds (what a client sent right behind its handshake): then the
// socket waits, and the rest is read at the round's end.
func (s *tlsStream) read(c *Conn, p []byte) (int, error) {
	k := 0
	var more *[]byte // kept bytes that do not fit in p
	if s.pend != nil {
		k = copy(p, *s.pend)
		if k < len(*s.pend) {
			more = s.pend
			*more = (*more)[:copy(*more, (*more)[k:])]
		} else {
			bufpool.Put(s.pend)
		}
		s.pend = nil
	}
	if more == nil && k < len(p) && !s.eof { // (a read into no room returns 0, which is not EOF)
		m, err := sys.Retry(func() (int, error) { return sys.Read(int(c.fd), p[k:]) })
		switch {
		case err == unix.EAGAIN:
		case err != nil:
			return 0, err
		case m == 0:
			s.eof = true
		default:
			k += m
		}
	}
	s.cin, s.cinOff = p[:k], 0
	n, err := s.decrypt(p)
	if rest := s.cin[s.cinOff:]; (len(rest) > 0 || more != nil) && (err == nil || err == unix.EAGAIN) {
		s.pend = bufpool.Get(len(rest))
		*s.pend = append(*s.pend, rest...)
		if more != nil {
			s.pend = bufpool.Grow(s.pend, len(*more))
			*s.pend = append(*s.pend, *more...)
			c.flags |= streamReady
			c.reg.AtRoundEnd()
		}
	}
	if more != nil {
		bufpool.Put(more)
	}
	s.cin, s.cinOff = nil, 0
	if c.flags&streamHeld != 0 {
		// Reading made output: a KeyUpdate's answer, or an alert. Best effort
		// here; the conn's settle watches for Writable if some is left.
		if derr := s.drain(c); derr != nil && err == nil {
			err = derr
		}
	}
	return n, err
}

// decrypt runs the records in s.cin through crypto/tls, writing their plaintext
// to the front of p.
func (s *tlsStream) decrypt(p []byte) (int, error) {
	w := 0
	for {
		m, err := s.tc.Read(p[w:])
		w += m
		switch {
		case err == nil:
			if m == 0 {
				return w, nil
			}
			continue
		case err == errWouldBlock:
			if w == 0 {
				return 0, unix.EAGAIN
			}
			return w, nil
		case w > 0:
			// Deliver the plaintext first. crypto/tls keeps the error, and
			// returns it again on the next read; until then the conn may see no
			// event (a close_notify with the socket left open), so ask for one.
			s.c.flags |= streamReady
			s.c.reg.AtRoundEnd()
			return w, nil
		case err == io.EOF && s.eofServed:
			return 0, ErrTruncated
		case err == io.EOF:
			return 0, nil // close_notify: the peer's orderly end
		default:
			return 0, err
		}
	}
}

// write encrypts p and writes it (see stream). It returns how many bytes of p
// are in the kernel: ciphertext the kernel did not take stays in ct, and the
// plaintext it holds stays at the head of the queue, counted as held, until it
// is written.
func (s *tlsStream) write(c *Conn, p []byte) (int, error) {
	// Held ciphertext may have been written since the last call (a read drains
	// what it can): its plaintext counts as written now.
	done := 0
	if s.ct == nil {
		done, s.held = s.held, 0
	}
	for {
		if s.ct != nil {
			if err := s.drain(c); err != nil {
				return 0, err
			}
			if s.ct != nil {
				if done == 0 {
					return 0, unix.EAGAIN
				}
				return done, nil
			}
			done += s.held
			s.held = 0
		}
		if done >= len(p) {
			return done, nil
		}
		chunk := p[done:min(len(p), done+tlsWriteChunk)]
		if _, err := s.tc.Write(chunk); err != nil {
			return done, err
		}
		s.held = len(chunk)
	}
}

// closeWrite sends close_notify, then shuts the socket's write side once it is
// written.
func (s *tlsStream) closeWrite(c *Conn) error {
	if err := s.closeNotify(c); err != nil {
		return err
	}
	if s.ct != nil {
		s.shutAfter = true
		return nil
	}
	return sys.Shutdown(int(c.fd), unix.SHUT_WR)
}

// closeNotify queues close_notify, once, and writes what it can of it.
func (s *tlsStream) closeNotify(c *Conn) error {
	if s.notified {
		return nil
	}
	s.notified = true
	if err := s.tc.CloseWrite(); err != nil {
		return err
	}
	return s.drain(c)
}

func (s *tlsStream) reset(c *Conn) { socket{}.reset(c) }

// release gives back the stream's buffers and ends a handshake in progress.
func (s *tlsStream) release(*Conn) {
	if s.hs != nil {
		s.hs.close()
	}
	for _, b := range []**[]byte{&s.pend, &s.ct} {
		if *b != nil {
			bufpool.Put(*b)
			*b = nil
		}
	}
	s.cin = nil
}

// queueOutput appends ciphertext to ct.
func (s *tlsStream) queueOutput(c *Conn, p []byte) {
	switch {
	case s.ct == nil:
		s.ct, s.ctOff = bufpool.Get(len(p)), 0
	case s.ctOff > 0 && cap(*s.ct)-len(*s.ct) < len(p):
		*s.ct = (*s.ct)[:copy(*s.ct, (*s.ct)[s.ctOff:])]
		s.ctOff = 0
	}
	s.ct = bufpool.Grow(s.ct, len(p))
	*s.ct = append(*s.ct, p...)
	c.flags |= streamHeld
}

// drain makes one write of ct. It clears streamHeld once all of ct is written.
func (s *tlsStream) drain(c *Conn) error {
	if s.ct == nil {
		return nil
	}
	n, err := sys.Retry(func() (int, error) { return sys.Write(int(c.fd), (*s.ct)[s.ctOff:]) })
	switch {
	case err == unix.EAGAIN:
		return nil
	case err != nil:
		return err
	}
	s.ctOff += n
	if s.ctOff < len(*s.ct) {
		return nil
	}
	bufpool.Put(s.ct)
	s.ct, s.ctOff = nil, 0
	c.flags &^= streamHeld
	if s.shutAfter {
		s.shutAfter = false
		return sys.Shutdown(int(c.fd), unix.SHUT_WR)
	}
	return nil
}

// The net.Conn under the tls.Conn.

// Read serves crypto/tls the peer's bytes: during the handshake from the
// handshake's input (blocking its goroutine until some come), afterwards the
// whole records the loop has read, or errWouldBlock.
func (s *tlsStream) Read(b []byte) (int, error) {
	if h := s.hs; h != nil {
		return h.read(s, b)
	}
	if n := serveRecord(b, s.cin, &s.cinOff, &s.recLeft, true); n > 0 {
		return n, nil
	}
	if s.eof {
		s.eofServed = true
		return 0, io.EOF
	}
	return 0, errWouldBlock
}

// Write takes what crypto/tls writes: during the handshake it writes it to
// the socket (see handshake.write), afterwards it appends to the ciphertext
// queue.
func (s *tlsStream) Write(b []byte) (int, error) {
	if h := s.hs; h != nil {
		return h.write(s, b)
	}
	s.queueOutput(s.c, b)
	return len(b), nil
}

// Close does nothing: the conn closes its socket.
func (s *tlsStream) Close() error { return nil }

// LocalAddr and RemoteAddr are the addresses looked up when the handshake
// started, if the server's GetCertificate or GetConfigForClient may ask for
// them (on the handshake's goroutine); nil otherwise.
func (s *tlsStream) LocalAddr() net.Addr  { return s.c.extra.local }
func (s *tlsStream) RemoteAddr() net.Addr { return s.c.extra.remote }

// Deadlines mean nothing here: the handshake timeout and the conn's idle
// timeout bound the waits.
func (s *tlsStream) SetDeadline(time.Time) error      { return nil }
func (s *tlsStream) SetReadDeadline(time.Time) error  { return nil }
func (s *tlsStream) SetWriteDeadline(time.Time) error { return nil }

// errWouldBlock is what Read returns when no whole record is in: a temporary
// net.Error, which crypto/tls returns without keeping (readRecordOrCCS), so the
// next Read tries again.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "transport: tls: would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }
