// Command http is an HTTP/1.1 server on sycamore's event loops, made for load tests
// with wrk. It answers
//
//	GET /, GET /plaintext  Hello, World!                (text/plain)
//	GET /json              {"message":"Hello, World!"}  (application/json)
//	GET /whoami            the client's address, ip:port (text/plain)
//
// and HEAD on the same paths, with keep-alive and pipelining. Any other method on
// those paths gets 405, any other path 404. Every response carries Server, Date
// and Content-Length. Request bodies are framed by Content-Length and dropped;
// chunked bodies get 501, bodies over 1 MiB 413, heads over 8 KiB 431, malformed
// requests 400 and versions other than HTTP/1.x 505, each followed by a close.
//
// Serving allocates nothing per request: the parser reads the conn's buffered
// bytes in place, in one pass, responses are preformatted, and each loop keeps
// its own Date line, refreshed once a second by a loop timer. A head that
// arrives in pieces is not parsed again from its start at each read: the parser
// goes on from the first line it has not parsed yet.
//
// Run it, then load it from another terminal:
//
//	go run ./examples/http -loops 2
//	wrk -t2 -c128 -d10s http://127.0.0.1:8080/plaintext
//
// For pipelining, give wrk a Lua script that sends several requests per write
// (wrk's own scripts/pipeline.lua).
//
// Three timeouts bound what a slow or hostile client can hold. -idle (shared by
// every example; default 0, none) closes a conn once that long passes with no
// byte read or written. -header-timeout (default 10s) bounds the time from the
// first byte of a request to the end of its head, and -request-timeout (default
// 30s) the time from its first byte to the end of its body; 0 disables either.
// A request still incomplete then is answered 408 Request Timeout with
// "Connection: close", and the conn closes. These two are what stop a slowloris
// client, which trickles a head a byte at a time more often than the idle
// timeout, and its cousin that sends a head at once and trickles the body. They
// do not cover the wait between requests on a keep-alive conn, which is -idle's.
//
// With -tls-cert FILE -tls-key FILE it serves HTTPS (ALPN http/1.1):
//
//	go run ./examples/http -tls-cert cert.pem -tls-key key.pem
//	curl --cacert ca.pem https://localhost:8080/
//	wrk -t2 -c128 -d10s https://127.0.0.1:8080/plaintext
//
// Behind a balancer that sends the PROXY protocol (HAProxy's send-proxy-v2),
// -proxy-protocol requires the header from the networks in -proxy-trust
// (default loopback), and /whoami shows the client, not the balancer.
//
// SIGHUP restarts it without refusing a connect: a new copy inherits the
// listening socket, and this one drains, answering each keep-alive conn's next
// request with "Connection: close". -pidfile names the process serving.
//
// The other flags (-addr, -loops, -pin, -balance, -reuseport, -wait, -idle,
// -drain, -pidfile) are the ones every example shares; -h lists them. SIGINT or SIGTERM
// drains the conns, then stops.
package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// defaultTimeouts are the defaults of -header-timeout and -request-timeout.
//
// The header timeout: net/http leaves ReadHeaderTimeout unset, HAProxy's manual
// suggests a few seconds for "timeout http-request"; 10 s is generous to slow
// links and still short for an attacker holding conns.
//
// The request timeout: a body may be up to 1 MiB, which 30 s lets through at
// 35 KB/s (about 280 kbit/s) or faster, so a slow mobile uplink still uploads
// the largest body and a trickling client holds its conn, and up to 1 MiB of
// buffer, for half a minute at most. Servers that take large uploads over slow
// links raise it; net/http's ReadTimeout, the same bound, is often set to 5-30 s.
var defaultTimeouts = timeouts{header: 10 * time.Second, request: 30 * time.Second}

// flags are the http server's command line: the shared engine flags and its own.
type flags struct {
	*cli.Flags
	timeouts timeouts
}

// register adds the shared flags, -header-timeout and -request-timeout to fs.
func register(fs *flag.FlagSet) *flags {
	f := &flags{Flags: cli.Register(fs, "127.0.0.1:8080", false)}
	f.RegisterTLS(fs, "http/1.1")
	f.RegisterProxy(fs)
	fs.DurationVar(&f.timeouts.header, "header-timeout", defaultTimeouts.header,
		"answer 408 and close when a request head is not complete this long after its first byte (0 = no limit)")
	fs.DurationVar(&f.timeouts.request, "request-timeout", defaultTimeouts.request,
		"answer 408 and close when a request head and body are not complete this long after its first byte (0 = no limit)")
	return f
}

// setup makes the handler for e's loops; it is what cli.Serve calls.
func (f *flags) setup(e *shard.Engine) (transport.Handler, error) {
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"-header-timeout", f.timeouts.header}, {"-request-timeout", f.timeouts.request}} {
		if t.d < 0 {
			return nil, fmt.Errorf("%s %v: want 0 or more", t.name, t.d)
		}
	}
	s := newServer(e.Loops(), f.timeouts)
	s.drainWith(e.Draining)
	return s, nil
}

func main() {
	f := register(flag.CommandLine)
	flag.Parse()
	cli.Main("http", f.Flags, f.setup)
}
