package balance_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/sycamore-go/sycamore/balance"
)

// noAddr is the remote address of a unix-socket peer: it carries no IP.
var noAddr netip.AddrPort

// anyAddr is a client address for the policies that ignore it.
var anyAddr = netip.MustParseAddrPort("192.0.2.1:40000")

func TestParseAcceptsEveryNameInAnyCaseAndSpacing(t *testing.T) {
	if want := []string{"round-robin", "least-connections", "source-hash", "power-of-two"}; strings.Join(balance.Names, ",") != strings.Join(want, ",") {
		t.Fatalf("Names = %q, want %q", balance.Names, want)
	}
	for _, name := range balance.Names {
		for _, variant := range []string{
			name,
			strings.ToUpper(name),
			strings.ToUpper(name[:1]) + name[1:],
			"  " + name + " ",
			"\t" + strings.ToUpper(name) + "\n",
		} {
			b, err := balance.Parse(variant)
			if err != nil {
				t.Errorf("Parse(%q) = %v, want the %s balancer", variant, err, name)
				continue
			}
			if b == nil {
				t.Errorf("Parse(%q) returned a nil Balancer and no error", variant)
				continue
			}
			if got := fmt.Sprint(b); got != name {
				t.Errorf("Parse(%q) returned %q, want %q", variant, got, name)
			}
		}
	}
}

func TestParseRejectsUnknownNameWithErrUnknownListingValidNames(t *testing.T) {
	for _, name := range []string{"", "   ", "random", "least_connections", "round robin", "roundrobin", "power-of-2"} {
		b, err := balance.Parse(name)
		if err == nil {
			t.Errorf("Parse(%q) = %v, nil; want an error", name, b)
			continue
		}
		if b != nil {
			t.Errorf("Parse(%q) returned a Balancer (%v) with its error", name, b)
		}
		if !errors.Is(err, balance.ErrUnknown) {
			t.Errorf("Parse(%q) error %q does not wrap ErrUnknown", name, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "balance: ") {
			t.Errorf("Parse(%q) error %q does not start with the package name", name, msg)
		}
		if name != "" && !strings.Contains(msg, name) {
			t.Errorf("Parse(%q) error %q does not quote the name given", name, msg)
		}
		for _, valid := range balance.Names {
			if !strings.Contains(msg, valid) {
				t.Errorf("Parse(%q) error %q does not list the valid name %q", name, msg, valid)
			}
		}
	}
}

func TestRoundRobinCyclesThroughEveryLoopInOrder(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		b := balance.RoundRobin()
		loads := make(balance.Ints, n)
		loads[0] = 1000 // load is ignored: loop 0 still gets its turn
		for i := range 5 * n {
			if got := b.Pick(anyAddr, loads); got != i%n {
				t.Fatalf("n=%d: pick %d = %d, want %d", n, i, got, i%n)
			}
		}
	}
}

// Eight goroutines pick at once; a counter that lost or repeated an increment
// would leave some loop with more than its share.
func TestRoundRobinConcurrentPicksGiveEachLoopExactlyItsShare(t *testing.T) {
	const (
		goroutines = 8
		perG       = 10_000
		loops      = 5 // divides goroutines*perG
	)
	b := balance.RoundRobin()
	loads := make(balance.Ints, loops)
	counts := make([][loops]int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perG {
				i := b.Pick(anyAddr, loads)
				if i < 0 || i >= loops {
					t.Errorf("Pick = %d, out of [0, %d)", i, loops)
					return
				}
				counts[g][i]++
			}
		}()
	}
	wg.Wait()
	var total [loops]int
	for g := range counts {
		for i, c := range counts[g] {
			total[i] += c
		}
	}
	for i, c := range total {
		if want := goroutines * perG / loops; c != want {
			t.Errorf("loop %d got %d picks, want exactly %d (all: %v)", i, c, want, total)
		}
	}
}

func TestLeastConnectionsPicksLeastLoadedLowestIndexOnTie(t *testing.T) {
	b := balance.LeastConnections()
	for _, tc := range []struct {
		loads balance.Ints
		want  int
	}{
		{balance.Ints{5}, 0},
		{balance.Ints{3, 0, 5}, 1},
		{balance.Ints{0, 0, 0}, 0},
		{balance.Ints{2, 1, 1}, 1},
		{balance.Ints{4, 3, 3, 1, 1}, 3},
		{balance.Ints{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 9},
		{balance.Ints{7, 7, 7, 7, 6}, 4},
		{balance.Ints{1, 1, 0, 1, 0}, 2},
	} {
		for range 3 { // a pure policy: the same answer every time
			if got := b.Pick(anyAddr, tc.loads); got != tc.want {
				t.Errorf("Pick(%v) = %d, want %d", tc.loads, got, tc.want)
				break
			}
		}
	}
}

func TestSourceHashMapsOneAddressToOneLoopWhateverThePort(t *testing.T) {
	b := balance.SourceHash()
	loads := make(balance.Ints, 7)
	for _, s := range []string{"10.0.0.1", "192.0.2.200", "::1", "2001:db8::42", "fe80::1%eth0"} {
		ip := netip.MustParseAddr(s)
		want := b.Pick(netip.AddrPortFrom(ip, 1), loads)
		for port := range uint16(200) {
			if got := b.Pick(netip.AddrPortFrom(ip, 1000+port*300), loads); got != want {
				t.Fatalf("%s port %d went to loop %d, port 1 to loop %d", s, 1000+port*300, got, want)
			}
		}
	}
	// The balancer keeps no memory of its picks: another instance agrees.
	other := balance.SourceHash()
	for i := range 256 {
		ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, 3, byte(i)}), 5000)
		if b.Pick(ap, loads) != other.Pick(ap, loads) {
			t.Fatalf("two SourceHash balancers disagree on %v", ap)
		}
	}
}

// sequentialIPv4s returns n addresses counting up from 10.0.0.0 (10.0.x.y), the
// kind of neighbours a weak hash clumps together.
func sequentialIPv4s(n int) []netip.AddrPort {
	out := make([]netip.AddrPort, n)
	for i := range out {
		out[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 443)
	}
	return out
}

// randomIPv6s returns n random global IPv6 addresses from a fixed seed.
func randomIPv6s(n int) []netip.AddrPort {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]netip.AddrPort, n)
	for i := range out {
		var b [16]byte
		for k := range b {
			b[k] = byte(r.Uint32())
		}
		b[0] = 0x20 // 2000::/3, global unicast, never IPv4-mapped
		out[i] = netip.AddrPortFrom(netip.AddrFrom16(b), uint16(r.Uint32()))
	}
	return out
}

// chiSquare999 is the 99.9th percentile of the chi-square distribution with df
// degrees of freedom: an even spread exceeds it once in a thousand tries.
var chiSquare999 = map[int]float64{3: 16.27, 6: 22.46}

func TestSourceHashSpreadsManyAddressesEvenly(t *testing.T) {
	for _, set := range []struct {
		name  string
		addrs []netip.AddrPort
	}{
		{"sequential IPv4 10.0.x.y", sequentialIPv4s(10_000)},
		{"random IPv6", randomIPv6s(10_000)},
	} {
		for _, n := range []int{4, 7} {
			b := balance.SourceHash()
			loads := make(balance.Ints, n)
			counts := make([]int, n)
			for _, ap := range set.addrs {
				i := b.Pick(ap, loads)
				if i < 0 || i >= n {
					t.Fatalf("%s over %d loops: Pick(%v) = %d, out of range", set.name, n, ap, i)
				}
				counts[i]++
			}
			mean := float64(len(set.addrs)) / float64(n)
			chi := 0.0
			for i, c := range counts {
				if dev := math.Abs(float64(c)-mean) / mean; dev > 0.15 {
					t.Errorf("%s over %d loops: loop %d got %d, %.0f%% off the mean %.0f (counts %v)",
						set.name, n, i, c, 100*dev, mean, counts)
				}
				d := float64(c) - mean
				chi += d * d / mean
			}
			t.Logf("%s over %d loops: counts %v, chi-square %.1f", set.name, n, counts, chi)
			if limit := chiSquare999[n-1]; chi > limit {
				t.Errorf("%s over %d loops: chi-square %.1f > %.2f, the spread is not even (counts %v)",
					set.name, n, chi, limit, counts)
			}
		}
	}
}

func TestSourceHashMapsIPv4MappedIPv6LikeItsIPv4(t *testing.T) {
	b := balance.SourceHash()
	for _, n := range []int{2, 4, 7, 16} {
		loads := make(balance.Ints, n)
		for _, v4 := range sequentialIPv4s(1000) {
			mapped := netip.AddrPortFrom(netip.AddrFrom16(v4.Addr().As16()), v4.Port()+1)
			if !mapped.Addr().Is4In6() {
				t.Fatalf("test setup: %v is not IPv4-mapped", mapped)
			}
			if got, want := b.Pick(mapped, loads), b.Pick(v4, loads); got != want {
				t.Fatalf("n=%d: %v went to loop %d, %v to loop %d", n, mapped, got, v4, want)
			}
		}
	}
}

func TestSourceHashWithoutIPFallsBackToRoundRobin(t *testing.T) {
	b := balance.SourceHash()
	loads := balance.Ints{0, 0, 0}
	for i := range 9 {
		if got := b.Pick(noAddr, loads); got != i%3 {
			t.Fatalf("unix-socket pick %d = %d, want %d (round-robin)", i, got, i%3)
		}
	}
}

func TestPowerOfTwoNeverPicksOutOfRange(t *testing.T) {
	b := balance.PowerOfTwo()
	r := rand.New(rand.NewPCG(3, 4))
	for n := 1; n <= 9; n++ {
		loads := make(balance.Ints, n)
		for range 2000 {
			for i := range loads {
				loads[i] = r.IntN(4)
			}
			if got := b.Pick(anyAddr, loads); got < 0 || got >= n {
				t.Fatalf("n=%d loads %v: Pick = %d, out of range", n, loads, got)
			}
		}
	}
}

func TestPowerOfTwoWithOneLoopPicksIt(t *testing.T) {
	b := balance.PowerOfTwo()
	for range 100 {
		if got := b.Pick(anyAddr, balance.Ints{42}); got != 0 {
			t.Fatalf("Pick over one loop = %d, want 0", got)
		}
	}
}

// With two loops the two choices are always both loops, so the more loaded one
// must never be picked.
func TestPowerOfTwoNeverPicksMoreLoadedOfTwoLoops(t *testing.T) {
	b := balance.PowerOfTwo()
	for _, tc := range []struct {
		loads balance.Ints
		want  int
	}{
		{balance.Ints{5, 3}, 1},
		{balance.Ints{3, 5}, 0},
		{balance.Ints{0, 1}, 0},
		{balance.Ints{1, 0}, 1},
	} {
		for range 1000 {
			if got := b.Pick(anyAddr, tc.loads); got != tc.want {
				t.Fatalf("Pick(%v) = %d, want %d: picked the more loaded loop", tc.loads, got, tc.want)
			}
		}
	}
}

// Loop 0 is in half the random pairs (3 of the 6) and wins every one of them; each
// other loop wins only against another equally loaded one, one pick in six.
func TestPowerOfTwoFavoursTheOneIdleLoop(t *testing.T) {
	const picks = 10_000
	b := balance.PowerOfTwo()
	loads := balance.Ints{0, 100, 100, 100}
	counts := make([]int, len(loads))
	for range picks {
		counts[b.Pick(anyAddr, loads)]++
	}
	if counts[0] <= picks*40/100 {
		t.Errorf("idle loop 0 got %d of %d picks (counts %v), want over 40%%", counts[0], picks, counts)
	}
	for i := 1; i < len(counts); i++ {
		if counts[i]*2 >= counts[0] {
			t.Errorf("loaded loop %d got %d picks, idle loop 0 only %d: want loop 0 far ahead (counts %v)",
				i, counts[i], counts[0], counts)
		}
	}
}

func TestPowerOfTwoSpreadsEqualLoadsEvenly(t *testing.T) {
	const picks = 40_000
	for _, n := range []int{2, 4, 7} {
		b := balance.PowerOfTwo()
		loads := make(balance.Ints, n)
		for i := range loads {
			loads[i] = 5
		}
		counts := make([]int, n)
		for range picks {
			counts[b.Pick(anyAddr, loads)]++
		}
		// The standard deviation of a count is below 1% of the mean here; 10%
		// is far outside chance.
		mean := float64(picks) / float64(n)
		for i, c := range counts {
			if dev := math.Abs(float64(c)-mean) / mean; dev > 0.10 {
				t.Errorf("n=%d: loop %d got %d picks, %.0f%% off the mean %.0f (counts %v)", n, i, c, 100*dev, mean, counts)
			}
		}
	}
}

// balancers lists every policy with the name Parse knows it by.
func balancers() []struct {
	name string
	b    balance.Balancer
} {
	return []struct {
		name string
		b    balance.Balancer
	}{
		{"round-robin", balance.RoundRobin()},
		{"least-connections", balance.LeastConnections()},
		{"source-hash", balance.SourceHash()},
		{"power-of-two", balance.PowerOfTwo()},
	}
}

// Pick runs once per accepted connection, on the accept path: it must not
// allocate. The loads are converted to the Loads interface once, outside the
// measured function, as an engine holding its Loads would.
func TestPickDoesNotAllocate(t *testing.T) {
	var loads balance.Loads = balance.Ints{3, 1, 4, 1, 5, 9, 2, 6}
	for _, remote := range []netip.AddrPort{anyAddr, netip.MustParseAddrPort("[2001:db8::1]:80"), noAddr} {
		for _, p := range balancers() {
			if allocs := testing.AllocsPerRun(1000, func() { p.b.Pick(remote, loads) }); allocs != 0 {
				t.Errorf("%s Pick(%v) allocates %.1f times per call, want 0", p.name, remote, allocs)
			}
		}
	}
}

func BenchmarkRoundRobinPick(b *testing.B) { benchmarkPick(b, balance.RoundRobin(), anyAddr) }
func BenchmarkLeastConnectionsPick(b *testing.B) {
	benchmarkPick(b, balance.LeastConnections(), anyAddr)
}
func BenchmarkSourceHashPickIPv4(b *testing.B) { benchmarkPick(b, balance.SourceHash(), anyAddr) }
func BenchmarkSourceHashPickIPv6(b *testing.B) {
	benchmarkPick(b, balance.SourceHash(), netip.MustParseAddrPort("[2001:db8::1]:80"))
}
func BenchmarkSourceHashPickUnix(b *testing.B) { benchmarkPick(b, balance.SourceHash(), noAddr) }
func BenchmarkPowerOfTwoPick(b *testing.B)     { benchmarkPick(b, balance.PowerOfTwo(), anyAddr) }

// benchmarkPick measures one Pick over 8 loops.
func benchmarkPick(b *testing.B, bal balance.Balancer, remote netip.AddrPort) {
	var loads balance.Loads = balance.Ints{3, 1, 4, 1, 5, 9, 2, 6}
	b.ReportAllocs()
	sink := 0
	for b.Loop() {
		sink += bal.Pick(remote, loads)
	}
	if sink < 0 {
		b.Fatal("negative pick")
	}
}
