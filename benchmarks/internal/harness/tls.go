package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// OpenSSLFullHandshakes is an OpenSSL configuration that makes wrk's TLS
// client do a full handshake on every connection: TLS 1.2 without session
// tickets. wrk (4.1, OpenSSL 3) keeps a conn's TLS session when it reconnects
// (SSL_clear keeps it), so with TLS 1.3 each new conn resumes it (PSK with
// ECDHE, no certificate, no signature) from a ticket, and OpenSSL's client has
// no switch that turns TLS 1.3 resumption off; under TLS 1.2 without tickets
// the session ID it offers again finds no cache on a Go server (crypto/tls
// keeps none), so every handshake is a full ECDHE-ECDSA one.
const OpenSSLFullHandshakes = `# wrk with this as OPENSSL_CONF: TLS 1.2, no session tickets, so no resumption.
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
MaxProtocol = TLSv1.2
Options = -SessionTicket
`

// WriteOpenSSLFullHandshakes writes OpenSSLFullHandshakes into dir and returns
// the environment entry that points OpenSSL at it.
func WriteOpenSSLFullHandshakes(dir string) (string, error) {
	path := filepath.Join(dir, "openssl-tls12-no-tickets.cnf")
	if err := os.WriteFile(path, []byte(OpenSSLFullHandshakes), 0o644); err != nil {
		return "", fmt.Errorf("harness: %w", err)
	}
	return "OPENSSL_CONF=" + path, nil
}

// PassiveOpens returns the TCP conns accepted so far in this network
// namespace (Tcp: PassiveOpens in /proc/net/snmp): read before and after a
// load, the difference is the conns its client opened to the server, on a
// machine where nothing else is connecting.
func PassiveOpens() (int64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, fmt.Errorf("harness: %w", err)
	}
	return parseSNMP(b, "Tcp", "PassiveOpens")
}

// parseSNMP returns one counter of /proc/net/snmp, where each protocol has a
// line of names followed by a line of values, both starting "Proto:".
func parseSNMP(b []byte, proto, name string) (int64, error) {
	prefix := []byte(proto + ":")
	var names [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		if names == nil {
			names = bytes.Fields(rest)
			continue
		}
		values := bytes.Fields(rest)
		for i, n := range names {
			if string(n) == name && i < len(values) {
				v, err := strconv.ParseInt(string(values[i]), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("harness: /proc/net/snmp %s %s: %w", proto, name, err)
				}
				return v, nil
			}
		}
		break
	}
	return 0, fmt.Errorf("harness: /proc/net/snmp has no %s %s", proto, name)
}

// TLSResumes reports whether the TLS server at addr resumes a session: it
// makes one conn with a session cache, does the round trip suited to kind
// (which also reads the TLS 1.3 session tickets sent after the handshake),
// closes it, and makes a second, which resumes or not. cfg is cloned.
func TLSResumes(ctx context.Context, addr, kind string, cfg *tls.Config) (bool, error) {
	cfg = cfg.Clone()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	var resumed bool
	for i := 0; i < 2; i++ {
		c, err := openIdleWith(ctx, addr, kind, cfg)
		if err != nil {
			return false, fmt.Errorf("harness: resumption probe, conn %d: %w", i+1, err)
		}
		resumed = c.(*tls.Conn).ConnectionState().DidResume
		c.Close()
	}
	return resumed, nil
}

// openIdleWith dials addr and does one round trip suited to kind, over TLS
// with cfg when cfg is not nil (the handshake done first, within the same
// bound). The returned conn has no deadline left on it.
func openIdleWith(ctx context.Context, addr, kind string, cfg *tls.Config) (net.Conn, error) {
	if cfg == nil {
		return openIdle(ctx, addr, kind)
	}
	d := net.Dialer{Timeout: probeTimeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, cfg)
	c.SetDeadline(time.Now().Add(probeTimeout))
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	if err := roundTrip(c, kind); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}
