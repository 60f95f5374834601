package main

import (
	"io"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// TestHotCommandsAllocateNothing sends each hot command over a real connection,
// one request and one reply at a time, and counts the process's allocations per
// round trip: the client's Write and Read, and the loop's read, parse, keyspace
// and reply path. GET, PING (both forms), INCR and a SET that overwrites a value
// of the same size allocate nothing.
//
// The bound is a few allocations per thousand round trips, not zero: the
// transport's buffers come from a sync.Pool, which now and then allocates when
// the loop's thread moves to another P (a profile of 100,000 GETs shows 3 to 14,
// all in sync.Pool and bufpool.Get). An allocation per command would show as
// 1000 or more.
func TestHotCommandsAllocateNothing(t *testing.T) {
	const poolNoise = 5
	if testutil.RaceEnabled {
		t.Skip("the race detector allocates, and sync.Pool drops buffers under it")
	}
	_, addr := startRedis(t)
	c := dial(t, addr)
	c.do(mb("SET", "key:__rand_int__", "xxx"), "+OK\r\n")
	cases := []struct{ name, request, reply string }{
		{"GET", mb("GET", "key:__rand_int__"), bulk("xxx")},
		{"GET missing", mb("GET", "nothing"), "$-1\r\n"},
		{"PING", mb("PING"), "+PONG\r\n"},
		{"PING inline", "PING\r\n", "+PONG\r\n"},
		{"SET same size", mb("SET", "key:__rand_int__", "yyy"), "+OK\r\n"},
		// The counter counts from 1000, so every reply has four digits; a SET of a
		// number gives the value a buffer INCR can reuse after its first call.
		{"INCR", mb("INCR", "counter"), ":1xxx\r\n"},
	}
	c.do(mb("SET", "counter", "999"), "+OK\r\n")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			request, reply := []byte(tc.request), make([]byte, len(tc.reply))
			var failed error
			roundTrip := func() {
				if failed != nil {
					return
				}
				if _, failed = c.conn.Write(request); failed == nil {
					_, failed = io.ReadFull(c.conn, reply)
				}
			}
			perRun := testing.AllocsPerRun(1000, roundTrip) // whole allocations, rounded down
			total := testutil.Mallocs(1000, roundTrip)      // the exact count, for rates below 1
			if failed != nil {
				t.Fatalf("round trip: %v", failed)
			}
			if tc.name != "INCR" && string(reply) != tc.reply {
				t.Fatalf("reply %q, want %q", reply, tc.reply)
			}
			if perRun != 0 || total > poolNoise {
				t.Errorf("%s: %d allocations in 1000 round trips (AllocsPerRun %.0f), want at most %d", tc.name, total, perRun, poolNoise)
			}
		})
	}
}

// TestKeyspaceHotPathAllocatesNothing checks the keyspace alone: get, mget, set
// over a value that fits, and incr of an existing counter.
func TestKeyspaceHotPathAllocatesNothing(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	ks := newKeyspace(defaultStripes)
	key, val, counter := []byte("key"), []byte("value"), []byte("n")
	keys := [][]byte{key, key}
	ks.set(key, val, setAlways)
	ks.incr(counter, 1)
	var sink int
	for name, f := range map[string]func(){
		"get":  func() { ks.get(key, func(v []byte) { sink += len(v) }) },
		"set":  func() { ks.set(key, val, setAlways) },
		"incr": func() { ks.incr(counter, 1) },
		"mget": func() { ks.mget(keys, func(v []byte, _ bool) { sink += len(v) }) },
	} {
		if total := testutil.Mallocs(1000, f); total != 0 {
			t.Errorf("%s: %d allocations in 1000 calls, want 0", name, total)
		}
	}
}
