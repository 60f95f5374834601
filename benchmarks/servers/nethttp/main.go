// Command nethttp is the net/http peer server for the load benchmarks: it
// answers / and /plaintext with "Hello, World!" and /json with a small JSON
// object, with the standard library's defaults otherwise (HTTP/1.1 keep-alive,
// one goroutine per connection).
//
// Usage:
//
//	nethttp -addr 127.0.0.1:8080
package main

import (
	"net/http"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/hello"
	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

func main() {
	addr := peer.Addr("nethttp")
	srv := &http.Server{Addr: addr, Handler: hello.Mux("nethttp")}
	peer.Serve("nethttp", srv.ListenAndServe, srv.Shutdown)
}
