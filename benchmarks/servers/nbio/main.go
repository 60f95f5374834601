// Command nbio is the lesismal/nbio peer server for the load benchmarks.
// With -mode http (the default) it is nbio's nbhttp engine running a
// net/http handler, the server nbio's users run: it answers / and /plaintext
// with "Hello, World!" and /json with a small JSON object, with nbhttp's
// defaults otherwise (requests parsed on the pollers, handlers run on its
// goroutine pool). With -mode echo it is a bare nbio engine that writes back
// every byte it reads, from the poller goroutine. Both run -loops pollers (2
// by default) and lock no thread unless -lockthread is given.
//
// With -tls-cert and -tls-key (-mode http only) nbhttp serves HTTPS instead:
// the address goes to Config.AddrsTLS, with a TLSConfig of nbio's own TLS
// (github.com/lesismal/llib/std/crypto/tls, a fork of crypto/tls that runs
// the handshake and the records on the pollers, non-blocking), offering
// HTTP/1.1 in ALPN.
//
// Usage:
//
//	nbio -addr 127.0.0.1:8080 [-mode http|echo] [-loops N] [-lockthread] [-tls-cert cert.pem -tls-key key.pem]
package main

import (
	"log"

	"github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/hello"
	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

func main() {
	files := peer.RegisterTLS()
	cl := peer.ParseDual("nbio", 2, "nbio pollers", "lock each poller to an OS thread (LockPoller)")
	conf := nbio.Config{Name: "nbio", Network: "tcp", Addrs: []string{cl.Addr}, NPoller: cl.Loops, LockPoller: cl.LockThread}
	if cl.Mode == "echo" {
		files.On("nbio -mode echo", false) // TLS is served in http mode only
		engine := nbio.NewEngine(conf)
		engine.OnData(func(c *nbio.Conn, data []byte) {
			c.Write(data) // nbio keeps what the socket does not take at once
		})
		peer.ServeStarted("nbio", engine.Start, engine.Shutdown)
		return
	}
	hconf := nbhttp.Config{
		Name: conf.Name, Network: conf.Network, Addrs: conf.Addrs, NPoller: conf.NPoller, LockPoller: conf.LockPoller,
		Handler: hello.Mux("nbio"),
	}
	if files.On("nbio", true) {
		cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
		if err != nil {
			log.Fatalf("nbio: -tls-cert %s -tls-key %s: %v", files.Cert, files.Key, err)
		}
		hconf.Addrs, hconf.AddrsTLS = nil, conf.Addrs
		hconf.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	}
	engine := nbhttp.NewEngine(hconf)
	// Shutdown stops the listener, closes every conn and stops the pollers.
	peer.ServeStarted("nbio", engine.Start, engine.Shutdown)
}
