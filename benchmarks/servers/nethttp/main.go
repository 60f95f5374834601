// Command nethttp is the net/http peer server for the load benchmarks: it
// answers / and /plaintext with "Hello, World!" and /json with a small JSON
// object, with the standard library's defaults otherwise (HTTP/1.1 keep-alive,
// one goroutine per connection).
//
// With -tls-cert and -tls-key it serves HTTPS instead (ListenAndServeTLS),
// offering HTTP/1.1 only in ALPN, as the other HTTPS peers do: HTTP/2 is off.
//
// Usage:
//
//	nethttp -addr 127.0.0.1:8080 [-tls-cert cert.pem -tls-key key.pem]
package main

import (
	"crypto/tls"
	"net/http"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/hello"
	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

func main() {
	files := peer.RegisterTLS()
	addr := peer.Addr("nethttp")
	srv := &http.Server{Addr: addr, Handler: hello.Mux("nethttp")}
	if !files.On("nethttp", true) {
		peer.Serve("nethttp", srv.ListenAndServe, srv.Shutdown)
		return
	}
	srv.TLSConfig = files.Config("nethttp", "http/1.1")
	// A non-nil, empty TLSNextProto turns HTTP/2 off.
	srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	peer.Serve("nethttp", func() error { return srv.ListenAndServeTLS("", "") }, srv.Shutdown)
}
