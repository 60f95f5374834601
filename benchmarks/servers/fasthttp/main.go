// Command fasthttp is the fasthttp peer server for the load benchmarks: it
// answers / and /plaintext with "Hello, World!" and /json with a small JSON
// object, using fasthttp.Server's defaults otherwise (worker-pool of
// goroutines, HTTP/1.1 keep-alive).
//
// Usage:
//
//	fasthttp -addr 127.0.0.1:8080
package main

import (
	"github.com/valyala/fasthttp"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/hello"
	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

func main() {
	addr := peer.Addr("fasthttp")
	srv := &fasthttp.Server{Handler: handle, Name: "fasthttp"}
	peer.Serve("fasthttp", func() error { return srv.ListenAndServe(addr) }, srv.ShutdownWithContext)
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
