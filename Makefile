# sycamore: the two commands the README promises.
#   make test   vet (Linux, macOS, FreeBSD) and the race-enabled test suite
#   make bench  the core packages' Go benchmarks, with allocations

GO ?= go
BENCH_PKGS := ./poller/ ./loop/ ./transport/
BENCHTIME ?= 1s

.PHONY: test vet bench

test: vet
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=freebsd $(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(BENCH_PKGS)
