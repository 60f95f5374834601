package harness

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The Tcp lines of a real /proc/net/snmp.
const sampleSNMP = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 289759557
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 1901954 1900685 1231 149298 0 289759557 289837343 24452 0 120802 0
Udp: InDatagrams NoPorts
Udp: 10 2
`

func TestParseSNMPReadsOneCounter(t *testing.T) {
	if n, err := parseSNMP([]byte(sampleSNMP), "Tcp", "PassiveOpens"); err != nil || n != 1900685 {
		t.Fatalf("Tcp PassiveOpens = %d, %v; want 1900685", n, err)
	}
	if n, err := parseSNMP([]byte(sampleSNMP), "Udp", "NoPorts"); err != nil || n != 2 {
		t.Fatalf("Udp NoPorts = %d, %v; want 2", n, err)
	}
	if _, err := parseSNMP([]byte(sampleSNMP), "Tcp", "Nonesuch"); err == nil {
		t.Fatal("parseSNMP found a counter that is not there")
	}
}

func TestPassiveOpensCountsAnAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	before, err := PassiveOpens()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	after, err := PassiveOpens()
	if err != nil || after <= before {
		t.Fatalf("PassiveOpens %d -> %d (%v), want it to grow by a conn", before, after, err)
	}
}

func TestWriteOpenSSLFullHandshakes(t *testing.T) {
	env, err := WriteOpenSSLFullHandshakes(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path, ok := strings.CutPrefix(env, "OPENSSL_CONF=")
	b, err := os.ReadFile(path)
	if !ok || err != nil || string(b) != OpenSSLFullHandshakes {
		t.Fatalf("%q: %q, %v", env, b, err)
	}
}

// tlsServer serves HTTPS ("Hello, World!") with a throwaway certificate on
// loopback, counting the conns and the handshakes that resumed a session,
// until the test ends.
type tlsServer struct {
	addr                 string
	cert                 Cert
	conns, full, resumed atomic.Int64
}

func startTLSServer(t *testing.T, tickets bool) *tlsServer {
	t.Helper()
	cert, err := SelfSignedCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{cert: cert}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, SessionTicketsDisabled: !tickets,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if cs.DidResume {
				s.resumed.Add(1)
			} else {
				s.full.Add(1)
			}
			return nil
		}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "13")
			io.WriteString(w, "Hello, World!")
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.conns.Add(1)
			}
		},
		ErrorLog: log.New(io.Discard, "", 0), // wrk's conns cut at the end of its run
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(tls.NewListener(ln, cfg))
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return s
}

func TestTLSResumesSaysWhetherTheServerResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("serves TLS on loopback")
	}
	for _, tickets := range []bool{true, false} {
		s := startTLSServer(t, tickets)
		got, err := TLSResumes(context.Background(), s.addr, "http", s.cert.ClientConfig())
		if err != nil || got != tickets {
			t.Errorf("with session tickets %v: TLSResumes = %v, %v; want %v", tickets, got, err, tickets)
		}
	}
}

// TestWrkConnectionCloseReconnects checks what the https section's loads of
// one conn per request rest on: with -H 'Connection: close' wrk opens a conn
// (and does a handshake) per request, and with TLS 1.3 it resumes its session
// on each, while under OpenSSLFullHandshakes every handshake is a full one.
func TestWrkConnectionCloseReconnects(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrk")
	}
	if !Have("wrk") {
		t.Skip("wrk not installed")
	}
	env, err := WriteOpenSSLFullHandshakes(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		env  []string
		full bool
	}{{"TLS 1.3, resumed", nil, false}, {"TLS 1.2, full", []string{env}, true}} {
		s := startTLSServer(t, true)
		const conns = 4
		opens0, err := PassiveOpens()
		if err != nil {
			t.Fatal(err)
		}
		res, err := RunWrk(context.Background(), WrkLoad{URL: "https://" + s.addr + "/plaintext", Threads: 1, Conns: conns,
			Duration: time.Second, Headers: []string{"Connection: close"}, Env: c.env})
		if err != nil {
			t.Fatal(err)
		}
		opens1, err := PassiveOpens()
		if err != nil {
			t.Fatal(err)
		}
		n, full, resumed := s.conns.Load(), s.full.Load(), s.resumed.Load()
		t.Logf("%s: %s: %d requests, %d errors, %d conns (%d accepted here), %d full handshakes, %d resumed",
			c.name, res.Cmd, res.Requests, res.Errors, n, opens1-opens0, full, resumed)
		if res.Requests < 100 || n < res.Requests || n > res.Requests+2*conns || opens1-opens0 < n {
			t.Errorf("%s: %d requests made %d conns (%d accepted in all); want a conn per request", c.name, res.Requests, n, opens1-opens0)
		}
		if c.full && resumed != 0 || !c.full && resumed < full+res.Requests/2 {
			t.Errorf("%s: %d full handshakes, %d resumed", c.name, full, resumed)
		}
	}
}
