package main

// The keyspace is shared by every loop, so its design decides how the server
// scales with loops. Two designs fit an event-loop server:
//
//  1. Striped locks: the keys are spread by hash over a fixed number of stripes,
//     each a sync.RWMutex and a map. A command takes the lock of its key's stripe
//     for the few nanoseconds a map operation lasts, on the loop that received
//     it, and answers at once.
//  2. Per-loop ownership: each key belongs to one loop (hash modulo loops), and a
//     command for a key another loop owns is handed to that loop with
//     loop.Submit; the answer comes back the same way. No locks, but a hand-off
//     costs a closure allocation, a queue push and often a wakeup syscall each
//     way, a pipeline of commands for keys on different loops has to be
//     reassembled in order before it is answered, and with N loops (N-1)/N of all
//     commands take that path.
//
// This file is design 1, because the lock is far cheaper than the hop. Measured
// with keyspace_test.go on a shared 2-CPU Linux VM (go test -bench
// 'Keyspace|SubmitHandoff' -cpu 1,2 -count 5, medians):
//
//	                          1 goroutine   2 goroutines
//	GET, 256 stripes            21.5 ns        17.5 ns      0 allocs
//	GET, 1 stripe (one lock)    27.8 ns        28.6 ns      0 allocs
//	SET, 256 stripes            34.1 ns        48.1 ns      0 allocs
//	90% GET, 256 stripes        23.0 ns        24.2 ns      0 allocs
//	Submit hand-off, one way     239 ns         170 ns      1 alloc
//
// A hand-off alone costs several times a locked map operation and allocates,
// before the reply's hop back. One global lock stops scaling at the second
// goroutine (GET: 27.8 to 28.6 ns per op where 256 stripes go to 17.5 ns), so
// there are many stripes; two CPUs cannot show more than that. End to end
// (redis-benchmark -P 16 -r 100000 against -loops 2, -stripes 1 or 256) the
// two stripe counts were within the run-to-run noise (±40%) of that VM, where
// redis-benchmark itself takes one of the two CPUs.
//
// Values are mutable in place under the stripe's write lock (a SET of a value
// that fits the old one's buffer copies into it and allocates nothing), so a
// reader must copy a value out while it holds the read lock: get and mget hand
// the value to a callback, and the server writes it into the connection's output
// queue right there.
//
// Commands on several keys (DEL, EXISTS, MSET, MGET) lock every stripe they
// touch, in ascending stripe order so that two of them cannot deadlock, which
// makes them atomic as they are in Redis: an MGET never sees half of an MSET.

import (
	"hash/maphash"
	"math"
	"math/bits"
	"strconv"
	"sync"

	"golang.org/x/sys/cpu"
)

// Stripe counts. With 256 stripes, two loops contend only when their keys land in
// the same stripe, and each stripe costs a map header and a cache line.
const (
	defaultStripes = 256
	maxStripes     = 1024 // the stripeSet bitmap below has one bit per stripe
)

// entry is one value. Its buffer is reused by later writes that fit (see store).
type entry struct {
	val []byte
}

// stripe is one lock and the keys hashed to it. The pad keeps two stripes' locks
// off one cache line, so that loops working on different stripes do not slow
// each other through false sharing.
type stripe struct {
	_  cpu.CacheLinePad
	mu sync.RWMutex
	m  map[string]*entry
}

// keyspace maps keys to values for all loops at once. Safe from any goroutine.
type keyspace struct {
	seed    maphash.Seed
	mask    uint64
	stripes []stripe
}

// newKeyspace returns an empty keyspace with n stripes, rounded up to a power of
// two and capped at maxStripes.
func newKeyspace(n int) *keyspace {
	n = max(1, min(n, maxStripes))
	n = 1 << bits.Len(uint(n-1))
	ks := &keyspace{seed: maphash.MakeSeed(), mask: uint64(n - 1), stripes: make([]stripe, n)}
	for i := range ks.stripes {
		ks.stripes[i].m = make(map[string]*entry)
	}
	return ks
}

func (ks *keyspace) stripeIndex(key []byte) int {
	return int(maphash.Bytes(ks.seed, key) & ks.mask)
}

func (ks *keyspace) stripeOf(key []byte) *stripe {
	return &ks.stripes[ks.stripeIndex(key)]
}

// get calls fn with key's value, under the read lock, and reports whether the
// key exists. fn must copy what it keeps and must not call the keyspace.
func (ks *keyspace) get(key []byte, fn func(val []byte)) bool {
	s := ks.stripeOf(key)
	s.mu.RLock()
	e := s.m[string(key)]
	if e != nil {
		fn(e.val)
	}
	s.mu.RUnlock()
	return e != nil
}

// setMode is SET's condition: always, only if absent (NX), only if present (XX).
type setMode uint8

const (
	setAlways setMode = iota
	setIfAbsent
	setIfPresent
)

// set stores a copy of val under key if mode allows, and reports whether it did.
func (ks *keyspace) set(key, val []byte, mode setMode) bool {
	s := ks.stripeOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[string(key)]
	switch {
	case mode == setIfAbsent && e != nil, mode == setIfPresent && e == nil:
		return false
	case e == nil:
		s.m[string(key)] = &entry{val: append(make([]byte, 0, len(val)), val...)}
	default:
		e.store(val)
	}
	return true
}

// store replaces the value, reusing its buffer when val fits and would not leave
// most of the buffer idle. The stripe's write lock must be held.
func (e *entry) store(val []byte) {
	if c := cap(e.val); c >= len(val) && c <= 2*len(val)+64 {
		e.val = e.val[:len(val)]
		copy(e.val, val)
		return
	}
	e.val = append(make([]byte, 0, len(val)), val...)
}

// Errors of incr, worded as Redis words them.
const (
	errNotInteger = "ERR value is not an integer or out of range"
	errOverflow   = "ERR increment or decrement would overflow"
)

// maxIntLen is the longest decimal int64: "-9223372036854775808".
const maxIntLen = 20

// incr adds by to the integer stored at key (a missing key counts as 0) and
// returns the sum, or the Redis error text when the value is not an integer or
// the sum would overflow.
func (ks *keyspace) incr(key []byte, by int64) (int64, string) {
	s := ks.stripeOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[string(key)]
	var n int64
	if e != nil {
		var ok bool
		if n, ok = parseInt(e.val); !ok {
			return 0, errNotInteger
		}
	}
	if (by > 0 && n > math.MaxInt64-by) || (by < 0 && n < math.MinInt64-by) {
		return 0, errOverflow
	}
	n += by
	if e == nil {
		e = &entry{}
		s.m[string(key)] = e
	}
	if cap(e.val) < maxIntLen {
		e.val = make([]byte, 0, maxIntLen) // every later INCR fits: no allocation
	}
	e.val = strconv.AppendInt(e.val[:0], n, 10)
	return n, ""
}

// del removes keys and returns how many existed (a key named twice counts once,
// as in Redis).
func (ks *keyspace) del(keys [][]byte) int {
	set := ks.lockKeys(keys, true)
	defer ks.unlock(&set, true)
	n := 0
	for _, k := range keys {
		s := ks.stripeOf(k)
		if _, ok := s.m[string(k)]; ok {
			delete(s.m, string(k))
			n++
		}
	}
	return n
}

// exists returns how many of keys exist (a key named twice counts twice, as in
// Redis).
func (ks *keyspace) exists(keys [][]byte) int {
	set := ks.lockKeys(keys, false)
	defer ks.unlock(&set, false)
	n := 0
	for _, k := range keys {
		if _, ok := ks.stripeOf(k).m[string(k)]; ok {
			n++
		}
	}
	return n
}

// mset stores each pair (key, value) of pairs, atomically.
func (ks *keyspace) mset(pairs [][]byte) {
	set := ks.lockPairs(pairs)
	defer ks.unlock(&set, true)
	for i := 0; i+1 < len(pairs); i += 2 {
		s := ks.stripeOf(pairs[i])
		if e := s.m[string(pairs[i])]; e != nil {
			e.store(pairs[i+1])
		} else {
			s.m[string(pairs[i])] = &entry{val: append(make([]byte, 0, len(pairs[i+1])), pairs[i+1]...)}
		}
	}
}

// mget calls fn for each key in order with its value and whether it exists,
// under the read locks of all the keys' stripes (so the values are one
// snapshot). fn must copy what it keeps and must not call the keyspace.
func (ks *keyspace) mget(keys [][]byte, fn func(val []byte, ok bool)) {
	set := ks.lockKeys(keys, false)
	defer ks.unlock(&set, false)
	for _, k := range keys {
		if e := ks.stripeOf(k).m[string(k)]; e != nil {
			fn(e.val, true)
		} else {
			fn(nil, false)
		}
	}
}

// size returns how many keys there are. It locks one stripe at a time, so under
// concurrent writes the count is approximate.
func (ks *keyspace) size() int {
	n := 0
	for i := range ks.stripes {
		s := &ks.stripes[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// stripeSet is a set of stripe indexes, one bit each, kept on the stack.
type stripeSet [maxStripes / 64]uint64

func (ss *stripeSet) add(i int) { ss[i/64] |= 1 << (i % 64) }

// lockKeys locks the stripes of keys, each once, in ascending order, and returns
// the set for unlock.
func (ks *keyspace) lockKeys(keys [][]byte, write bool) stripeSet {
	var set stripeSet
	for _, k := range keys {
		set.add(ks.stripeIndex(k))
	}
	ks.lock(&set, write)
	return set
}

// lockPairs locks for writing the stripes of the keys of (key, value) pairs.
func (ks *keyspace) lockPairs(pairs [][]byte) stripeSet {
	var set stripeSet
	for i := 0; i < len(pairs); i += 2 {
		set.add(ks.stripeIndex(pairs[i]))
	}
	ks.lock(&set, true)
	return set
}

func (ks *keyspace) lock(set *stripeSet, write bool) {
	set.each(func(i int) {
		if write {
			ks.stripes[i].mu.Lock()
		} else {
			ks.stripes[i].mu.RLock()
		}
	})
}

func (ks *keyspace) unlock(set *stripeSet, write bool) {
	set.each(func(i int) {
		if write {
			ks.stripes[i].mu.Unlock()
		} else {
			ks.stripes[i].mu.RUnlock()
		}
	})
}

// each calls fn for every index in the set, in ascending order.
func (ss *stripeSet) each(fn func(i int)) {
	for w, word := range ss {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			fn(w*64 + b)
			word &^= 1 << b
		}
	}
}
