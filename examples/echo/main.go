// Command echo is the smallest sycamore server: it writes every byte it reads
// back to the conn it came from, on sycamore's event loops.
//
// Each readable event costs one read(2) into the loop's shared buffer and one
// write(2) of the same bytes; nothing is allocated per message. A client that
// sends faster than it reads is slowed down by the conn's write queue: above
// transport.DefaultHighWater queued bytes the server stops reading from it.
//
// Run it, then talk to it from another terminal:
//
//	go run ./examples/echo -loops 2
//	nc 127.0.0.1 7000
//
// or on a unix socket:
//
//	go run ./examples/echo -addr unix:/tmp/echo.sock
//	nc -U /tmp/echo.sock
//
// With -tls-cert FILE -tls-key FILE it speaks TLS, and echoes the plaintext:
//
//	go run ./examples/echo -tls-cert cert.pem -tls-key key.pem
//	openssl s_client -connect 127.0.0.1:7000 -CAfile ca.pem
//
// The flags (-addr, -loops, -pin, -balance, -reuseport, -wait, -idle, -drain,
// -pidfile) are the ones every example shares; -h lists them. SIGINT or SIGTERM
// drains and stops it; SIGHUP restarts it without refusing a connect.
package main

import (
	"flag"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

func main() {
	f := cli.Register(flag.CommandLine, "127.0.0.1:7000", false)
	f.RegisterTLS(flag.CommandLine)
	flag.Parse()
	cli.Main("echo", f, func(*shard.Engine) (transport.Handler, error) {
		return echo{}, nil
	})
}
