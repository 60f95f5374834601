package testutil

import "runtime"

// Mallocs runs f n times and returns how many heap allocations the whole
// process made meanwhile. It measures as testing.AllocsPerRun does (one P,
// after a warm-up), but returns the exact count instead of a per-run figure
// rounded down, which would hide up to n-1 allocations. It collects garbage
// first: a collection during the count would empty the sync.Pools, and the
// first Put after one allocates the pool's per-P array.
func Mallocs(n int, f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.GC()
	for range 10 {
		f()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}
