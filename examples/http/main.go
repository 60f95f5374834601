// Command http is an HTTP/1.1 server on sycamore's event loops, made for load tests
// with wrk. It answers
//
//	GET /, GET /plaintext  Hello, World!                (text/plain)
//	GET /json              {"message":"Hello, World!"}  (application/json)
//
// and HEAD on the same paths, with keep-alive and pipelining. Any other method on
// those paths gets 405, any other path 404. Every response carries Server, Date
// and Content-Length. Request bodies are framed by Content-Length and dropped;
// chunked bodies get 501, bodies over 1 MiB 413, heads over 8 KiB 431, malformed
// requests 400 and versions other than HTTP/1.x 505, each followed by a close.
//
// Serving allocates nothing per request: the parser reads the conn's buffered
// bytes in place, responses are preformatted, and each loop keeps its own Date
// line, refreshed once a second by a loop timer.
//
// Run it, then load it from another terminal:
//
//	go run ./examples/http -loops 2
//	wrk -t2 -c128 -d10s http://127.0.0.1:8080/plaintext
//
// For pipelining, give wrk a Lua script that sends several requests per write
// (wrk's own scripts/pipeline.lua). The flags (-addr, -loops, -pin, -balance,
// -reuseport, -drain) are the ones every example shares; -h lists them. SIGINT or
// SIGTERM drains the conns, then stops.
package main

import (
	"flag"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

func main() {
	f := cli.Register(flag.CommandLine, "127.0.0.1:8080", false)
	flag.Parse()
	cli.Main("http", f, func(e *shard.Engine) (transport.Handler, error) {
		return newServer(e.Loops()), nil
	})
}
