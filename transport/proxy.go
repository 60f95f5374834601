package transport

import (
	"errors"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/proxyproto"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
)

// ProxyProtocol makes a listener require a PROXY protocol header, version 1 or
// 2 (what HAProxy's send-proxy and send-proxy-v2 write), at the start of every
// conn: the balancer in front says who the client is. The header is read, and
// checked, on the listener's loop before the conn is made (and, for an
// engine, before its loop is picked, so source-hash balancing keys on the
// client); the conn's RemoteAddr is then the client's address. A conn from a
// peer outside Trusted is refused at once, and so is one whose header is
// missing, malformed, longer than 4 KiB or not whole within HeaderTimeout: it
// is closed without a Conn ever being made (Listener.ProxyRefused counts
// them). A LOCAL header (the balancer's own health check) keeps the socket's
// own addresses, and so does one for a unix-socket client.
type ProxyProtocol struct {
	// Trusted are the networks a header may come from: the balancers' addresses.
	// It must not be empty. A listener on a unix socket trusts its peers.
	Trusted []netip.Prefix
	// HeaderTimeout bounds the wait for the whole header, from the accept; 0
	// means DefaultProxyHeaderTimeout.
	HeaderTimeout time.Duration
}

// DefaultProxyHeaderTimeout is ProxyProtocol.HeaderTimeout's default.
const DefaultProxyHeaderTimeout = 5 * time.Second

func (p *ProxyProtocol) check() error {
	if len(p.Trusted) == 0 {
		return errors.New("transport: ProxyProtocol.Trusted is empty: no balancer could send a header")
	}
	return nil
}

func (p *ProxyProtocol) timeout() time.Duration {
	if p.HeaderTimeout > 0 {
		return p.HeaderTimeout
	}
	return DefaultProxyHeaderTimeout
}

// trusts reports whether a peer at remote may send a header.
func (p *ProxyProtocol) trusts(remote netip.AddrPort) bool {
	if !remote.IsValid() {
		return true // a unix socket's peer
	}
	addr := remote.Addr().Unmap()
	for _, n := range p.Trusted {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// proxyReader waits, on the listener's loop, for the PROXY header of one
// accepted conn: it peeks until the header parses, reads exactly its bytes, and
// hands the fd on with the client's address; or closes the fd.
type proxyReader struct {
	reg    loop.Registration
	ln     *Listener
	fd     int
	remote netip.AddrPort // the balancer's address, until the header says better
	timer  loop.Timer
}

// RequireProxy makes the listener require a PROXY header on every conn it
// accepts from now on (see ProxyProtocol); Listen does it for
// ListenConfig.Proxy, and a listener adopted from a file (FileListener) gets
// it this way. Call it before Serve.
func (ln *Listener) RequireProxy(p *ProxyProtocol) error {
	if err := p.check(); err != nil {
		return err
	}
	ln.proxy = p
	return nil
}

// AdoptFrom is Adopt for a conn whose client's address is known otherwise than
// from the socket (a PROXY header): RemoteAddr reports remote. Loop goroutine
// only (or before the loop runs).
func AdoptFrom(l *loop.Loop, fd int, h Handler, cfg Config, remote netip.AddrPort) (*Conn, error) {
	if fd < 0 {
		return nil, errors.New("transport: AdoptFrom: bad fd")
	}
	return newConnFrom(l, fd, h, &cfg, remote)
}

// readProxyHeader starts reading fd's PROXY header. Loop goroutine of ln.
func (ln *Listener) readProxyHeader(fd int, remote netip.AddrPort) {
	if !ln.proxy.trusts(remote) {
		ln.refuseProxied(fd)
		return
	}
	r := &proxyReader{ln: ln, fd: fd, remote: remote}
	if err := ln.l.Attach(&r.reg, r, poller.Readable); err != nil {
		ln.refuseProxied(fd)
		return
	}
	r.timer = ln.l.AfterFunc(ln.proxy.timeout(), r.refuse)
}

func (ln *Listener) refuseProxied(fd int) {
	ln.proxyRefused++
	sys.Close(fd)
}

// ProxyRefused returns how many conns the listener refused for their PROXY
// header (untrusted peer, missing, malformed or late header). Loop goroutine
// only.
func (ln *Listener) ProxyRefused() uint64 { return ln.proxyRefused }

// Fd is the loop.Target method.
func (r *proxyReader) Fd() int { return r.fd }

// HandleEvent parses what has arrived, without consuming it, and once the
// header is whole reads exactly its bytes and hands the conn on.
func (r *proxyReader) HandleEvent(poller.Event) {
	var buf [proxyproto.MaxLen]byte
	n, err := sys.Retry(func() (int, error) { return sys.Peek(r.fd, buf[:]) })
	switch {
	case err == unix.EAGAIN:
		return
	case err != nil || n == 0:
		r.refuse()
		return
	}
	h, size, err := proxyproto.Parse(buf[:n])
	switch {
	case errors.Is(err, proxyproto.ErrIncomplete):
		return // more to come; the timeout bounds the wait
	case err != nil:
		r.refuse()
		return
	}
	if got, err := sys.Retry(func() (int, error) { return sys.Read(r.fd, buf[:size]) }); err != nil || got != size {
		r.refuse()
		return
	}
	remote := r.remote
	if !h.Local && h.Source.IsValid() {
		remote = h.Source
	}
	r.timer.Stop()
	r.reg.Unregister()
	r.ln.accepted(r.fd, remote)
}

// refuse closes the conn: its header was bad, or late.
func (r *proxyReader) refuse() {
	if !r.reg.Registered() {
		return
	}
	r.timer.Stop()
	r.ln.proxyRefused++
	r.reg.Release() // closes the fd at the round's end
}
