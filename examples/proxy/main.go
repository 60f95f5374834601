// Command proxy is a TCP proxy on sycamore's event loops: every conn it accepts
// is connected to the -upstream address, and bytes are copied both ways until
// both sides are done.
//
// Each accepted conn dials its upstream from its own loop (shard.Engine.Dial
// from a handler keeps the new conn on the caller's loop), so both conns of a
// pair live on one loop, share its goroutine and need no locking. The pair:
//
//   - holds the client's bytes until the upstream is connected: the client's
//     reads stay paused until then, and if the upstream refuses, the client is
//     closed;
//   - copies with no syscall but the read and the write: what one side reads
//     is queued on the other and flushed when the handler returns;
//   - stops reading from one side while the other side's write queue is above
//     -highwater (default 1 MiB), and reads on once that queue has drained, so
//     a slow reader on either side costs at most -highwater plus one read
//     (64 KiB) of memory;
//   - passes half-closes through: when one side shuts its writing side, the
//     other's is shut once its queue is written, and the pair closes when both
//     sides are done; when either side closes or fails, the other is closed
//     after writing what it has queued.
//
// Run it in front of, say, the echo example:
//
//	go run ./examples/echo &
//	go run ./examples/proxy -upstream 127.0.0.1:7000
//	nc 127.0.0.1 7002
//
// -upstream may be host:port (a host name is resolved once, at startup) or
// unix:/path. The other flags (-addr, -loops, -pin, -balance, -reuseport, -wait,
// -idle, -drain, -pidfile) are the ones every example shares; -h lists them.
// SIGHUP restarts it without refusing a connect.
package main

import (
	"flag"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

func main() {
	f := cli.Register(flag.CommandLine, "127.0.0.1:7002", false)
	upstream := flag.String("upstream", "", "address to proxy to: host:port or unix:/path (required)")
	highWater := flag.Int("highwater", defaultHighWater, "bytes queued for one side above which the other side is not read")
	flag.Parse()
	configure(f)
	cli.Main("proxy", f, func(e *shard.Engine) (transport.Handler, error) {
		return newProxy(e, *upstream, *highWater)
	})
}
