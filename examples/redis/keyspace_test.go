package main

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/loop"
)

// TestIncrFromManyGoroutinesLosesNoUpdate hammers a few counters from many
// goroutines; under -race it also checks the locking.
func TestIncrFromManyGoroutinesLosesNoUpdate(t *testing.T) {
	ks := newKeyspace(16)
	const goroutines, each = 8, 500
	keys := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if _, errText := ks.incr(keys[(g+i)%len(keys)], 1); errText != "" {
					t.Errorf("incr: %s", errText)
					return
				}
			}
		})
	}
	wg.Wait()
	total := int64(0)
	ks.mget(keys, func(val []byte, ok bool) {
		n, _ := parseInt(val)
		total += n
	})
	if total != goroutines*each {
		t.Errorf("counters sum to %d, want %d", total, goroutines*each)
	}
}

// TestMSetIsAtomicForMGet: a writer sets a group of keys (spread over stripes)
// to the same value again and again; a reader's MGET must never see a mix.
func TestMSetIsAtomicForMGet(t *testing.T) {
	ks := newKeyspace(defaultStripes)
	keys := make([][]byte, 8)
	for i := range keys {
		keys[i] = []byte("group-key-" + strconv.Itoa(i))
	}
	pairs := make([][]byte, 0, 2*len(keys))
	stop := atomic.NewBool(false)
	var wg sync.WaitGroup
	wg.Go(func() {
		for round := 0; !stop.Load(); round++ {
			v := []byte(strconv.Itoa(round))
			pairs = pairs[:0]
			for _, k := range keys {
				pairs = append(pairs, k, v)
			}
			ks.mset(pairs)
		}
	})
	for range 2000 {
		var first string
		mixed := false
		ks.mget(keys, func(val []byte, ok bool) {
			switch {
			case first == "":
				first = string(val) + "/" + strconv.FormatBool(ok)
			case first != string(val)+"/"+strconv.FormatBool(ok):
				mixed = true
			}
		})
		if mixed {
			t.Fatal("MGET saw a half-applied MSET")
		}
	}
	stop.Store(true)
	wg.Wait()
}

// TestStripeCountIsAPowerOfTwo checks the rounding of newKeyspace.
func TestStripeCountIsAPowerOfTwo(t *testing.T) {
	for n, want := range map[int]int{-1: 1, 0: 1, 1: 1, 3: 4, 256: 256, 300: 512, 5000: maxStripes} {
		if got := len(newKeyspace(n).stripes); got != want {
			t.Errorf("newKeyspace(%d) has %d stripes, want %d", n, got, want)
		}
	}
}

// benchKeys are the keys the keyspace benchmarks use: enough to spread over the
// stripes, few enough to stay in cache.
func benchKeys() [][]byte {
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = []byte("key:" + strconv.Itoa(i))
	}
	return keys
}

// BenchmarkKeyspace runs GET, SET and a 90/10 GET/SET mix from GOMAXPROCS
// goroutines on 1, 16 and 256 stripes; 1 stripe is a single global lock. Run it
// with -cpu 1,2,4,... to see how each scales.
func BenchmarkKeyspace(b *testing.B) {
	keys := benchKeys()
	val := []byte("xxx")
	for _, stripes := range []int{1, 16, defaultStripes} {
		ks := newKeyspace(stripes)
		for _, k := range keys {
			ks.set(k, val, setAlways)
		}
		ops := map[string]func(i int){
			"get": func(i int) { ks.get(keys[i%len(keys)], func([]byte) {}) },
			"set": func(i int) { ks.set(keys[i%len(keys)], val, setAlways) },
			"mix90": func(i int) {
				if i%10 == 0 {
					ks.set(keys[i%len(keys)], val, setAlways)
				} else {
					ks.get(keys[i%len(keys)], func([]byte) {})
				}
			},
		}
		for _, name := range []string{"get", "set", "mix90"} {
			op := ops[name]
			b.Run("stripes="+strconv.Itoa(stripes)+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				var seq atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					i := int(seq.Add(7919)) // each goroutine starts at another key
					for pb.Next() {
						op(i)
						i++
					}
				})
			})
		}
	}
}

// BenchmarkSubmitHandoff measures the other design, per-loop ownership: each
// operation is a closure handed with Submit to the loop that owns the key (one
// loop per CPU), which runs the map lookup on its own unlocked map. It counts
// only the hop there; the reply's hop back would cost as much again.
func BenchmarkSubmitHandoff(b *testing.B) {
	keys := benchKeys()
	loops := make([]*loop.Loop, runtime.GOMAXPROCS(0))
	maps := make([]map[string][]byte, len(loops))
	var running sync.WaitGroup
	for i := range loops {
		l, err := loop.New(loop.Config{ID: i, CPU: loop.NoPin})
		if err != nil {
			b.Fatal(err)
		}
		loops[i], maps[i] = l, make(map[string][]byte)
		for _, k := range keys {
			maps[i][string(k)] = []byte("xxx")
		}
		running.Go(func() { l.Run(context.Background()) })
	}
	b.ReportAllocs()
	var seq atomic.Int64
	var found atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(7919))
		for pb.Next() {
			key := keys[i%len(keys)]
			owner := i % len(loops)
			loops[owner].Submit(func() {
				if _, ok := maps[owner][string(key)]; ok {
					found.Inc()
				}
			})
			i++
		}
	})
	for _, l := range loops {
		l.Stop() // Run returns after running every task submitted before Stop
	}
	running.Wait()
	b.StopTimer()
	for _, l := range loops {
		l.Close()
	}
	if found.Load() == 0 {
		b.Fatal("no task ran")
	}
}
