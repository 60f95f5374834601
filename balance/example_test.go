package balance_test

import (
	"fmt"
	"net/netip"

	"github.com/sycamore-go/sycamore/balance"
)

// Parse turns a flag value into a Balancer; Pick then chooses a loop for each new
// connection from the loops' current loads. Least-connections takes the least
// loaded loop, the lowest index on a tie.
func ExampleParse() {
	b, err := balance.Parse(" Least-Connections ")
	if err != nil {
		panic(err)
	}
	loads := balance.Ints{3, 1, 4, 1}
	client := netip.MustParseAddrPort("192.0.2.7:51000")
	fmt.Println(b, "picks loop", b.Pick(client, loads))

	_, err = balance.Parse("random")
	fmt.Println(err)
	// Output:
	// least-connections picks loop 1
	// balance: unknown balancer "random" (want one of round-robin, least-connections, source-hash, power-of-two)
}

// A source-hash balancer sends every connection from one client address to the
// same loop, whatever the client's port.
func ExampleSourceHash() {
	b := balance.SourceHash()
	loads := balance.Ints{0, 0, 0, 0}
	first := b.Pick(netip.MustParseAddrPort("198.51.100.20:40000"), loads)
	again := b.Pick(netip.MustParseAddrPort("198.51.100.20:40001"), loads)
	fmt.Println("same loop:", first == again)
	// Output:
	// same loop: true
}

// Round-robin hands connections to the loops in turn.
func ExampleRoundRobin() {
	b := balance.RoundRobin()
	loads := balance.Ints{9, 0, 0}
	for range 5 {
		fmt.Print(b.Pick(netip.AddrPort{}, loads), " ")
	}
	fmt.Println()
	// Output:
	// 0 1 2 0 1
}
