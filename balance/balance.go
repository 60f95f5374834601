// Package balance holds the policies that choose a loop for a new connection.
//
// A Balancer sees the peer's address and the current load of every loop and
// returns the index of the loop that should own the connection. Policies are pure:
// no I/O, no dependency on the loops themselves, and every one is safe for
// concurrent use, so an acceptor may call Pick from any goroutine.
package balance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"go.uber.org/atomic"
)

// Loads reports each loop's current load. Len is the number of loops; Load(i) is
// loop i's load, by convention its open connections (the engine adds the
// connections handed to the loop that it has not picked up yet).
type Loads interface {
	Len() int
	Load(i int) int
}

// Ints is a Loads over a slice: Ints{3, 0, 5} is three loops with those loads. Its
// methods are safe from any goroutine that does not change the slice meanwhile.
type Ints []int

func (s Ints) Len() int       { return len(s) }
func (s Ints) Load(i int) int { return s[i] }

// Balancer chooses a loop for a new connection from remote. Pick returns an index
// in [0, loads.Len()); loads.Len() must be positive. Safe from any goroutine.
type Balancer interface {
	Pick(remote netip.AddrPort, loads Loads) int
}

// ErrUnknown is returned by Parse for a name it does not know.
var ErrUnknown = errors.New("balance: unknown balancer")

// Names lists the names Parse accepts, in the order they are documented.
var Names = []string{"round-robin", "least-connections", "source-hash", "power-of-two"}

// Parse returns the balancer with the given name, as a command-line flag would
// give it: round-robin, least-connections, source-hash or power-of-two (case and
// surrounding spaces ignored). Safe from any goroutine.
func Parse(name string) (Balancer, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "round-robin":
		return RoundRobin(), nil
	case "least-connections":
		return LeastConnections(), nil
	case "source-hash":
		return SourceHash(), nil
	case "power-of-two":
		return PowerOfTwo(), nil
	}
	return nil, fmt.Errorf("%w %q (want one of %s)", ErrUnknown, name, strings.Join(Names, ", "))
}

// RoundRobin returns a balancer that hands connections to the loops in turn,
// whatever their load. Every balancer of this package is safe from any
// goroutine.
func RoundRobin() Balancer { return &roundRobin{} }

type roundRobin struct{ next atomic.Uint64 }

func (b *roundRobin) Pick(_ netip.AddrPort, loads Loads) int {
	return int((b.next.Inc() - 1) % uint64(loads.Len()))
}

func (*roundRobin) String() string { return "round-robin" }

// LeastConnections returns a balancer that picks the least loaded loop; ties go
// to the lowest index. Safe from any goroutine.
func LeastConnections() Balancer { return leastConnections{} }

type leastConnections struct{}

func (leastConnections) Pick(_ netip.AddrPort, loads Loads) int {
	best, bestLoad := 0, loads.Load(0)
	for i := 1; i < loads.Len(); i++ {
		if l := loads.Load(i); l < bestLoad {
			best, bestLoad = i, l
		}
	}
	return best
}

func (leastConnections) String() string { return "least-connections" }

// SourceHash returns a balancer that sends every connection from one client
// address (the port is ignored) to the same loop, and spreads many addresses
// evenly. Addresses without an IP, as unix sockets have, go round-robin: they
// carry nothing to hash. Safe from any goroutine.
func SourceHash() Balancer { return &sourceHash{} }

type sourceHash struct{ fallback roundRobin }

func (b *sourceHash) Pick(remote netip.AddrPort, loads Loads) int {
	ip := remote.Addr()
	if !ip.IsValid() {
		return b.fallback.Pick(remote, loads)
	}
	return int(hashAddr(ip.Unmap()) % uint64(loads.Len()))
}

func (*sourceHash) String() string { return "source-hash" }

// hashAddr mixes the 16 bytes of an address into 64 well-spread bits: each half
// goes through splitmix64's finaliser, whose every output bit depends on every
// input bit, so neighbouring addresses (10.0.0.1, 10.0.0.2, …) land far apart.
func hashAddr(ip netip.Addr) uint64 {
	b := ip.As16()
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return mix64(mix64(hi) ^ lo)
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// PowerOfTwo returns a balancer that looks at two loops chosen at random and
// picks the less loaded one ("the power of two choices"): nearly as even as
// least-connections, without reading every loop's load and without sending a
// burst of connections all to the one loop that looked emptiest. Safe from any goroutine.
func PowerOfTwo() Balancer { return powerOfTwo{} }

type powerOfTwo struct{}

func (powerOfTwo) Pick(_ netip.AddrPort, loads Loads) int {
	n := loads.Len()
	if n == 1 {
		return 0
	}
	// Two distinct loops: a in [0, n), b in [0, n) \ {a}.
	a := rand.IntN(n)
	b := rand.IntN(n - 1)
	if b >= a {
		b++
	}
	if loads.Load(b) < loads.Load(a) {
		return b
	}
	return a
}

func (powerOfTwo) String() string { return "power-of-two" }
