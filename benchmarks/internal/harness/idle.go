package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"
)

// IdleResult is what IdleConns measured.
type IdleResult struct {
	Conns     int     // connections held open, after the fd-limit cap
	RSSBefore int64   // server RSS before the first connection, bytes
	RSSAfter  int64   // server RSS with all connections open, once stable, bytes
	PerConn   float64 // (RSSAfter-RSSBefore)/Conns, bytes
	Cmd       string  // what was done, in words, including any cap on Conns
}

// Idle measurement bounds.
const (
	// fdReserve is how many of this process's fds IdleConns leaves for
	// everything else (the Go runtime, logs, /proc reads, wrk pipes).
	fdReserve = 64
	// rssSampleEvery and rssSettle pace and bound the wait for the server's
	// RSS to stop growing after the last connection was served.
	rssSampleEvery = 200 * time.Millisecond
	rssSettle      = 5 * time.Second
	// rssStableRatio: two samples this close (1%) count as stable.
	rssStableRatio = 0.01
	// probeTimeout bounds the dial and the round trip on each connection.
	probeTimeout = 5 * time.Second
)

// IdleConns measures the server's memory per idle connection. It raises this
// process's RLIMIT_NOFILE to the hard limit and caps n to that limit less 64
// fds (Cmd says so when it caps), records p's RSS, opens n TCP connections to
// addr, and does one round trip on each so that the server has served every
// connection once: 16 bytes echoed for an "echo" server, a GET / for "http",
// a PING for "resp" (by p.Kind). Then it waits until the server's RSS is
// stable (sampled every 200 ms, stable = two samples within 1%, at most 5 s),
// records it, and closes every connection. PerConn = (after-before)/n.
//
// The server needs as many fds as n; the default hard limit of a shell, often
// 4096 or 1,048,576, applies to both sides.
func IdleConns(ctx context.Context, addr string, n int, p *Proc) (IdleResult, error) {
	return measureIdle(ctx, addr, n, p, nil)
}

// IdleConnsTLS is IdleConns over TLS: each conn does a full TLS handshake with
// cfg (which must have no ClientSessionCache, so that no conn resumes another's
// session), then the round trip inside the TLS stream, then idles. PerConn then
// holds what the server keeps per TLS conn as well. One warm-up conn
// (handshake, round trip, close) comes before the first RSS sample, so that
// what a server sets up once, at its first handshake (crypto tables, the
// certificate parsed), is not counted per conn.
func IdleConnsTLS(ctx context.Context, addr string, n int, p *Proc, cfg *tls.Config) (IdleResult, error) {
	if cfg == nil || cfg.ClientSessionCache != nil {
		return IdleResult{}, errors.New("harness: idle: IdleConnsTLS needs a TLS config without a session cache")
	}
	return measureIdle(ctx, addr, n, p, cfg)
}

func measureIdle(ctx context.Context, addr string, n int, p *Proc, cfg *tls.Config) (IdleResult, error) {
	res := IdleResult{}
	limit, err := RaiseNoFile()
	if err != nil {
		return res, err
	}
	n, capNote := capToFdLimit(n, limit)
	if n < 1 {
		return res, fmt.Errorf("harness: idle: no connections to open (fd limit %d)", limit)
	}
	res.Conns = n
	if cfg != nil {
		res.Cmd = fmt.Sprintf("%d idle TLS conns to %s, a full TLS handshake and one %s round trip each%s", n, addr, probeName(p.Kind), capNote)
	} else {
		res.Cmd = fmt.Sprintf("%d idle conns to %s, one %s round trip each%s", n, addr, probeName(p.Kind), capNote)
	}

	if cfg != nil {
		c, err := openIdleWith(ctx, addr, p.Kind, cfg)
		if err != nil {
			return res, fmt.Errorf("harness: idle: warm-up conn: %w", err)
		}
		c.Close()
		if _, err := stableRSS(ctx, p); err != nil {
			return res, err
		}
	}
	if res.RSSBefore, err = p.RSS(); err != nil {
		return res, err
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("harness: idle: after %d conns: %w", i, err)
		}
		c, err := openIdleWith(ctx, addr, p.Kind, cfg)
		if err != nil {
			return res, fmt.Errorf("harness: idle: conn %d of %d: %w", i+1, n, err)
		}
		conns = append(conns, c)
	}
	if res.RSSAfter, err = stableRSS(ctx, p); err != nil {
		return res, err
	}
	res.PerConn = float64(res.RSSAfter-res.RSSBefore) / float64(n)
	return res, nil
}

// RaiseNoFile sets this process's soft RLIMIT_NOFILE to its hard limit and
// returns that limit.
func RaiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("harness: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("harness: setrlimit: %w", err)
		}
	}
	return lim.Cur, nil
}

// capToFdLimit caps n to the fd limit less fdReserve, and says so in a note
// for IdleResult.Cmd ("" when n fits).
func capToFdLimit(n int, limit uint64) (int, string) {
	ceiling := int(min(limit, 1<<30)) - fdReserve // min: RLIM_INFINITY is 2^64-1
	if n <= ceiling {
		return n, ""
	}
	return ceiling, fmt.Sprintf(" (capped from %d by RLIMIT_NOFILE %d)", n, limit)
}

// stableRSS samples p's RSS every rssSampleEvery until two samples in a row
// differ by at most rssStableRatio, or rssSettle has passed; it returns the
// last sample.
func stableRSS(ctx context.Context, p *Proc) (int64, error) {
	deadline := time.Now().Add(rssSettle)
	prev, err := p.RSS()
	if err != nil {
		return 0, err
	}
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return prev, fmt.Errorf("harness: idle: waiting for RSS to settle: %w", ctx.Err())
		case <-time.After(rssSampleEvery):
		}
		cur, err := p.RSS()
		if err != nil {
			return 0, err
		}
		if diff := cur - prev; float64(max(diff, -diff)) <= rssStableRatio*float64(prev) {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}

// Round-trip probes, by server kind.
var (
	echoProbe = []byte("sycamore-idle-16") // 16 bytes, echoed back as they are
	httpProbe = []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	respProbe = []byte("*1\r\n$4\r\nPING\r\n")
	respPong  = []byte("+PONG\r\n")
)

func probeName(kind string) string {
	switch kind {
	case "http":
		return "GET /"
	case "resp":
		return "PING"
	default:
		return "16-byte echo"
	}
}

// openIdle dials addr and does one round trip suited to kind. The returned
// connection has no deadline left on it.
func openIdle(ctx context.Context, addr, kind string) (net.Conn, error) {
	d := net.Dialer{Timeout: probeTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(probeTimeout))
	if err := roundTrip(c, kind); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// roundTrip does the round trip suited to kind on c.
func roundTrip(c net.Conn, kind string) error {
	switch kind {
	case "http":
		return roundTripHTTP(c)
	case "resp":
		return roundTripExact(c, respProbe, respPong)
	default:
		return roundTripExact(c, echoProbe, echoProbe)
	}
}

// roundTripExact writes req and expects exactly want back.
func roundTripExact(c net.Conn, req, want []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("harness: idle: got %q, want %q", got, want)
	}
	return nil
}

// roundTripHTTP sends a GET and reads one response whose body length is
// given by Content-Length (every peer server sends one).
func roundTripHTTP(c net.Conn) error {
	if _, err := c.Write(httpProbe); err != nil {
		return err
	}
	buf := make([]byte, 0, 1024)
	tmp := make([]byte, 1024)
	for {
		k, err := c.Read(tmp)
		buf = append(buf, tmp[:k]...)
		if head, ok := responseHead(buf); ok {
			cl, err := contentLength(head)
			if err != nil {
				return err
			}
			if len(buf) >= len(head)+cl {
				return nil
			}
		}
		if err != nil {
			return err
		}
		if len(buf) > 64<<10 {
			return errors.New("harness: idle: HTTP response larger than 64 KiB")
		}
	}
}

// responseHead returns the head of an HTTP response, up to and including the
// blank line, once buf holds all of it.
func responseHead(buf []byte) ([]byte, bool) {
	i := bytes.Index(buf, []byte("\r\n\r\n"))
	if i < 0 {
		return nil, false
	}
	return buf[:i+4], true
}

// contentLength returns the Content-Length in an HTTP head.
func contentLength(head []byte) (int, error) {
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil {
				return 0, fmt.Errorf("harness: idle: Content-Length %q: %w", value, err)
			}
			return n, nil
		}
	}
	return 0, errors.New("harness: idle: HTTP response without Content-Length")
}
