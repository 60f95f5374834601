// Command redis is a Redis-compatible key-value server on sycamore's event
// loops: it speaks RESP2, so redis-cli, redis-benchmark and Redis client
// libraries work with it.
//
// It knows GET, SET (with NX or XX; the expiry options are refused with a syntax
// error, as there is no expiry), DEL, EXISTS, INCR, MSET, MGET, ECHO, PING,
// DBSIZE, SELECT 0, QUIT, and enough of COMMAND and CONFIG GET for redis-cli and
// redis-benchmark to start; and PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE and
// PUNSUBSCRIBE (glob patterns as Redis's), with Redis's RESP2 push replies and
// PING in subscribed mode. A subscriber that owes more than -pubsub-limit bytes
// (32 MiB by default, Redis's hard limit for pubsub clients) is disconnected, so
// what one that stops reading costs the server is bounded by the limit;
// pubsub.go explains how messages cross the loops. Requests may be multibulk (what clients send) or
// inline (what telnet sends), and pipelined: every complete command in a read is
// answered, in order, with one write. A command that arrives in pieces is parsed
// as they arrive, each going on from where the last stopped, so a big MSET sent
// slowly costs about what it costs sent at once. GET, PING, INCR and a SET over
// a value of the same size allocate nothing.
//
// The keys live in memory only, in one keyspace that every loop shares through
// striped locks (keyspace.go explains the choice, with figures); -stripes sets
// how many.
//
// Run it, then use it from another terminal (6380, because 6379 is where a real
// redis-server would be):
//
//	go run ./examples/redis -loops 2
//	redis-cli -p 6380 set greeting hello
//	redis-cli -p 6380 get greeting
//	redis-benchmark -p 6380 -q -t ping_inline,set,get -P 16
//	redis-cli -p 6380 subscribe news          # and in a third terminal:
//	redis-benchmark -p 6380 -q -P 16 publish news hello
//
// The flags (-addr, -loops, -pin, -balance, -reuseport, -wait, -idle, -drain,
// -pidfile) are the ones every example shares; -h lists them. SIGINT or SIGTERM
// drains and stops it; SIGHUP restarts it without refusing a connect.
package main

import (
	"flag"
	"fmt"

	"github.com/sycamore-go/sycamore/examples/internal/cli"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

func main() {
	f := cli.Register(flag.CommandLine, "127.0.0.1:6380", false)
	stripes := flag.Int("stripes", defaultStripes, "lock stripes of the keyspace (a power of two up to 1024; 1 is one global lock)")
	pubsubLimit := flag.Int("pubsub-limit", defaultPubsubLimit, "bytes a subscriber may owe before it is disconnected (0: no limit)")
	flag.Parse()
	cli.Main("redis", f, func(*shard.Engine) (transport.Handler, error) {
		if *pubsubLimit < 0 {
			return nil, fmt.Errorf("-pubsub-limit %d: want 0 (no limit) or a number of bytes", *pubsubLimit)
		}
		return newServer(newKeyspace(*stripes), *pubsubLimit), nil
	})
}
