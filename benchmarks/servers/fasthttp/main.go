// Command fasthttp is the fasthttp peer server for the load benchmarks: it
// answers / and /plaintext with "Hello, World!" and /json with a small JSON
// object, using fasthttp.Server's defaults otherwise (worker-pool of
// goroutines, HTTP/1.1 keep-alive).
//
// With -tls-cert and -tls-key it serves HTTPS instead (ListenAndServeTLS,
// crypto/tls), offering HTTP/1.1 in ALPN.
//
// Usage:
//
//	fasthttp -addr 127.0.0.1:8080 [-tls-cert cert.pem -tls-key key.pem]
package main

import (
	"crypto/tls"

	"github.com/valyala/fasthttp"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/hello"
	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

func main() {
	files := peer.RegisterTLS()
	addr := peer.Addr("fasthttp")
	srv := &fasthttp.Server{Handler: handle, Name: "fasthttp"}
	serve := func() error { return srv.ListenAndServe(addr) }
	if files.On("fasthttp", true) {
		srv.TLSConfig = &tls.Config{NextProtos: []string{"http/1.1"}}
		serve = func() error { return srv.ListenAndServeTLS(addr, files.Cert, files.Key) }
	}
	peer.Serve("fasthttp", serve, srv.ShutdownWithContext)
}

// handle routes /json to the JSON body and every other path to the plaintext one.
func handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == "/json" {
		ctx.SetContentType("application/json")
		ctx.SetBody(hello.JSONBody)
		return
	}
	ctx.SetContentType("text/plain")
	ctx.SetBody(hello.Body)
}
