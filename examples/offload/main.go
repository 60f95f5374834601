// Command offload shows how a sycamore server keeps its event loops responsive
// while some requests need slow, blocking work: that work runs on the engine's
// worker pool through Engine.Offload, and its answer comes back to the conn's
// loop, in request order.
//
// The protocol is one request per line, one answer per line:
//
//	FAST         -> fast                 answered at once on the loop
//	HASH <n>     -> <hex>                SHA-256 applied n times (1 <= n <= 1000000)
//	                                     to a fixed seed: CPU-bound work
//	FILE <name>  -> <size> <sha256 hex>  a file of the -dir directory, read and
//	                                     hashed: blocking I/O
//
// Errors are answered "ERR <reason>"; a line longer than 4 KiB is answered
// "ERR line too long" and the conn is closed. A client may pipeline requests:
// answers always come back in request order, even when a FAST overtakes a slow
// HASH on the server or offloaded works finish out of order.
//
// With -workers 0 there is no pool and HASH and FILE run on the loop itself,
// which stalls every other conn of that loop meanwhile: compare the latency of
// FAST under load with and without workers.
//
//	go run ./examples/offload -loops 2 -dir /etc
//	printf 'HASH 1000000\nFAST\nFILE hostname\n' | nc 127.0.0.1 7001
//
// The other flags (-addr, -loops, -pin, -balance, -reuseport, -wait, -idle,
// -drain, -pidfile) are the ones every example shares; -h lists them. SIGHUP
// restarts it without refusing a connect.
package main

import (
	"flag"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

func main() {
	f := cli.Register(flag.CommandLine, "127.0.0.1:7001", true)
	dir := flag.String("dir", ".", "directory whose files FILE may read (plain names only)")
	flag.Parse()
	cli.Main("offload", f, func(e *shard.Engine) (transport.Handler, error) {
		return newServer(e, *dir)
	})
}
