# sycamore: the two commands the README promises.
#   make test   vet (Linux, macOS, FreeBSD) and the race-enabled test suite
#   make bench  the core packages' Go benchmarks, with allocations

GO ?= go
BENCH_PKGS := ./poller/ ./loop/ ./transport/
BENCHTIME ?= 1s

.PHONY: test vet bench tools

test: vet tools
	$(GO) test -race -count=1 ./...

# The redis example's tests drive the real redis-cli and redis-benchmark when they
# are installed (raw RESP otherwise): install them when we can.
tools:
	@sh scripts/ensure-tools.sh redis-cli:redis-tools redis-benchmark:redis-tools

vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=freebsd $(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(BENCH_PKGS)
