package loop

import (
	"runtime"
	"sync"
)

// stackBufs hold the first line of a stack trace for goroutineID: runtime.Stack's
// buffer escapes, so a pooled one keeps the call from allocating.
var stackBufs = sync.Pool{New: func() any { return new([32]byte) }}

// goroutineID returns the current goroutine's id, parsed from the first line of its
// stack trace ("goroutine 42 [running]:"). Go exposes no cheaper portable way; the
// loop calls it once per Run, InLoop and OnLoop once per call.
func goroutineID() int64 {
	buf := stackBufs.Get().(*[32]byte)
	n := runtime.Stack(buf[:], false)
	const prefix = len("goroutine ")
	var id int64
	for _, c := range buf[prefix:n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	stackBufs.Put(buf)
	return id
}
