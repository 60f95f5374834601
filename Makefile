# sycamore: the two commands the README promises.
#   make test   vet (Linux, macOS, FreeBSD), the race-enabled test suite of both
#               modules, the suite again with the loop-goroutine checks on
#               (-tags sycamore_checkowner), and the load harness, tuning sweep and
#               soak in quick mode (so they cannot rot)
#   make bench  the load harness: sycamore's examples against net/http, fasthttp,
#               netpoll, gnet, nbio, nginx and redis-server under wrk and
#               redis-benchmark, and every runtime's echo server under
#               redis-benchmark, with syscalls and context switches per request

GO ?= go
QUICK_OUT := $(shell mktemp -d 2>/dev/null || echo /tmp/sycamore-quick)

.PHONY: test vet bench tools bench-tools tune soak gobench

test: vet tools
	$(GO) test -race -count=1 -timeout 5m ./...
	$(GO) test -tags sycamore_checkowner -count=1 -timeout 5m ./...
	cd benchmarks && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 5m ./...
	cd benchmarks && $(GO) run ./cmd/bench -quick -out $(QUICK_OUT)
	cd benchmarks && $(GO) run ./cmd/tune -quick -out $(QUICK_OUT)
	cd benchmarks && $(GO) run ./cmd/soak -quick -out $(QUICK_OUT)

vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=freebsd $(GO) vet ./...

# The redis example's tests drive the real redis-cli and redis-benchmark, and the
# quick harness drives wrk, when they are installed: install them when we can.
tools:
	@sh scripts/ensure-tools.sh wrk:wrk redis-cli:redis-tools redis-benchmark:redis-tools curl:curl openssl:openssl haproxy:haproxy \
		dig:bind9-dnsutils dnsperf:dnsperf

bench-tools:
	@sh scripts/ensure-tools.sh wrk:wrk redis-cli:redis-tools redis-benchmark:redis-tools curl:curl openssl:openssl \
		redis-server:redis-server nginx:nginx-light dig:bind9-dnsutils dnsperf:dnsperf nsd:nsd

# The full run (about 24 minutes on 2 cores): the http section (sycamore,
# net/http, fasthttp, netpoll, gnet, nbio's nbhttp, nginx: wrk plain at -t2 and
# -t1, pipelined at -t2), resp (redis-server), runtime (the echo servers of
# sycamore, gnet, nbio, netpoll and net under redis-benchmark ping_mbulk), idle,
# https (sycamore, net/http, fasthttp and nbhttp over TLS: keep-alive,
# a new conn per request, full TLS 1.2 handshakes, RSS per idle TLS conn),
# fanout (PUBLISH to slow and to 1,000 subscribers against redis-server,
# about a minute), and dns (examples/dns at 1 and 2 loops against NSD and a
# miekg/dns server under dnsperf, about two minutes); tables on stdout, and
# benchmarks/results/latest.{json,md,svg}.
# One section alone: cd benchmarks && go run ./cmd/bench -only https
bench: bench-tools
	cd benchmarks && $(GO) run ./cmd/bench

# The loop-count sweep: benchmarks/results/tune.{json,md,svg}.
tune: bench-tools
	cd benchmarks && $(GO) run ./cmd/tune

# The soak (about 2.5 minutes): 19,000 echoed conns, 10% replaced every second,
# every byte verified, server fds and RSS sampled every second:
# benchmarks/results/soak.{json,md,svg}.
soak:
	cd benchmarks && $(GO) run ./cmd/soak

# The Go micro-benchmarks of the core packages, with allocations.
gobench:
	$(GO) test -run '^$$' -bench . -benchmem ./poller/ ./loop/ ./transport/ ./balance/
