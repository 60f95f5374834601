package loop

import "runtime"

// goroutineID returns the current goroutine's id, parsed from the first line of its
// stack trace ("goroutine 42 [running]:"). Go exposes no cheaper portable way; the
// loop calls it once per Run, and InLoop once per call.
func goroutineID() int64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	const prefix = len("goroutine ")
	var id int64
	for _, c := range buf[prefix:n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	return id
}
