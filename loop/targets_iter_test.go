package loop

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/sycamore-go/sycamore/poller"
)

// These tests walk Targets from the test goroutine of a loop that is not running,
// which Targets allows (loop goroutine only, or before the loop runs).

// registerPairs registers n targets, each on one end of a new socketpair.
func registerPairs(t *testing.T, l *Loop, n int) []*recTarget {
	t.Helper()
	targets := make([]*recTarget, n)
	for i := range targets {
		targets[i], _ = registerPair(t, l, poller.Readable)
	}
	return targets
}

// walkCounts is how many times the walk yielded each target.
type walkCounts map[Target]int

// checkEachOnce fails the test unless every target in want was yielded exactly
// once and nothing else was yielded.
func (seen walkCounts) checkEachOnce(t *testing.T, want []*recTarget) {
	t.Helper()
	for i, rt := range want {
		if seen[rt] != 1 {
			t.Errorf("target %d (fd %d) yielded %d times, want once", i, rt.fd, seen[rt])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("walk yielded %d distinct targets, want %d", len(seen), len(want))
	}
}

func TestTargetsYieldsEveryRegisteredTargetOnce(t *testing.T) {
	l := newTestLoop(t, nil)
	for range l.Targets() {
		t.Fatal("Targets of an empty loop yielded a target")
	}
	targets := registerPairs(t, l, 9)
	seen := walkCounts{}
	for tg := range l.Targets() {
		seen[tg]++
	}
	seen.checkEachOnce(t, targets)

	// Unregistered targets are not yielded; the rest still are, once.
	for _, rt := range targets[:3] {
		if err := l.Release(rt); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
	seen = walkCounts{}
	for tg := range l.Targets() {
		seen[tg]++
	}
	seen.checkEachOnce(t, targets[3:])
}

// Release of the yielded target moves the last slot, already walked, into its
// place. A walk that did not account for that would yield the moved target again,
// or skip one.
func TestTargetsReleasingYieldedTargetStillYieldsEveryOtherOnce(t *testing.T) {
	t.Run("release every target", func(t *testing.T) {
		l := newTestLoop(t, nil)
		targets := registerPairs(t, l, 8)
		seen := walkCounts{}
		for tg := range l.Targets() {
			seen[tg]++
			if err := l.Release(tg); err != nil {
				t.Fatalf("Release of the yielded target (fd %d): %v", tg.Fd(), err)
			}
		}
		seen.checkEachOnce(t, targets)
		if got := l.Stats().Targets; got != 0 {
			t.Fatalf("Stats().Targets = %d after releasing all, want 0", got)
		}
		for _, rt := range targets {
			if fdOpen(rt.fd) {
				t.Errorf("fd %d still open after Release outside a round", rt.fd)
			}
		}
	})
	t.Run("release every other target", func(t *testing.T) {
		l := newTestLoop(t, nil)
		targets := registerPairs(t, l, 9)
		seen := walkCounts{}
		released := map[Target]bool{}
		for tg := range l.Targets() {
			seen[tg]++
			if len(seen)%2 == 1 {
				released[tg] = true
				if err := l.Release(tg); err != nil {
					t.Fatalf("Release of the yielded target (fd %d): %v", tg.Fd(), err)
				}
			}
		}
		seen.checkEachOnce(t, targets)
		kept := walkCounts{}
		for tg := range l.Targets() {
			kept[tg]++
			if released[tg] {
				t.Errorf("released target fd %d yielded by a later walk", tg.Fd())
			}
		}
		if want := len(targets) - len(released); len(kept) != want || l.Stats().Targets != want {
			t.Errorf("after the walk: %d targets walked, Stats().Targets %d; want %d",
				len(kept), l.Stats().Targets, want)
		}
	})
}

// Targets registered during the walk may or may not be yielded (the walk is in fd
// order), but the targets registered before it are each yielded exactly once, and
// nothing is yielded twice.
func TestTargetsRegisteringDuringWalkStillYieldsEveryOriginalOnce(t *testing.T) {
	l := newTestLoop(t, nil)
	targets := registerPairs(t, l, 6)
	added := map[Target]bool{}
	seen := walkCounts{}
	for tg := range l.Targets() {
		seen[tg]++
		if seen[tg] > 1 {
			t.Fatalf("target fd %d yielded twice", tg.Fd())
		}
		if added[tg] {
			continue // a new target yielded: register no more for it
		}
		// Two new targets per original: enough to make the fd table grow (and
		// move) while the walk is in it.
		for range 2 {
			rt, _ := registerPair(t, l, poller.Readable)
			added[rt] = true
		}
	}
	for tg := range added {
		delete(seen, tg)
	}
	seen.checkEachOnce(t, targets)
	if want := len(targets) + len(added); l.Stats().Targets != want {
		t.Fatalf("Stats().Targets = %d after the walk, want %d", l.Stats().Targets, want)
	}
}

// The pattern of a target migrating to another loop: release each one as it is
// yielded and register its replacement, which may take the released fd number.
// Every original is yielded once, and nothing twice.
func TestTargetsReleaseAndReplaceDuringWalkYieldsEachOriginalOnce(t *testing.T) {
	l := newTestLoop(t, nil)
	targets := registerPairs(t, l, 7)
	replacements := map[Target]bool{}
	seen := walkCounts{}
	for tg := range l.Targets() {
		seen[tg]++
		if seen[tg] > 1 {
			t.Fatalf("target fd %d yielded twice", tg.Fd())
		}
		if replacements[tg] {
			continue
		}
		if err := l.Release(tg); err != nil {
			t.Fatalf("Release: %v", err)
		}
		rt, _ := registerPair(t, l, poller.Readable)
		replacements[rt] = true
	}
	for tg := range replacements {
		delete(seen, tg)
	}
	seen.checkEachOnce(t, targets)
	after := walkCounts{}
	for tg := range l.Targets() {
		after[tg]++
		if !replacements[tg] {
			t.Errorf("target fd %d yielded after the walk is not a replacement", tg.Fd())
		}
	}
	if len(after) != len(replacements) {
		t.Fatalf("%d targets after the walk, want the %d replacements", len(after), len(replacements))
	}
}

func TestTargetsBreakStopsTheWalk(t *testing.T) {
	l := newTestLoop(t, nil)
	registerPairs(t, l, 5)
	// Were yield called again after the body broke out, the range-over-func
	// machinery would panic here.
	n := 0
	for range l.Targets() {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("walk ran the body %d times, want 2 (it broke out at the second)", n)
	}

	// A direct yield that returns false must end the walk too.
	calls := 0
	l.Targets()(func(Target) bool {
		calls++
		return false
	})
	if calls != 1 {
		t.Fatalf("yield called %d times after returning false, want 1", calls)
	}
}

// The fd table grows by doubling: registering many targets costs their
// registrations and a handful of table copies, not one copy per few targets
// (append's 1.25× growth of a large slice would leave several discarded copies of
// the table per live entry).
func TestRegisteringManyTargetsGrowsTheTableByDoubling(t *testing.T) {
	l := newTestLoop(t, nil)
	const n = 8192
	targets := make([]*recTarget, n)
	for i := range targets {
		targets[i] = &recTarget{fd: 1000 + i} // interest 0: never given to the poller
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, rt := range targets {
		if err := l.Register(rt, 0); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	// Each Register allocates its Registration (48 bytes, the size class of
	// its 40). Doubling allocates about twice the final table over its growth;
	// append's growth of a large slice allocates about five times it.
	const registration = 48
	entry := uint64(unsafe.Sizeof(&Registration{})) // a pointer in the fd table
	if bytes, limit := after.TotalAlloc-before.TotalAlloc, n*registration+5*n*entry/2; bytes > limit {
		t.Fatalf("registering %d targets allocated %d bytes, want at most %d (their registrations and 2.5× the table)", n, bytes, limit)
	}
	for _, rt := range targets {
		l.Unregister(rt)
	}
}
