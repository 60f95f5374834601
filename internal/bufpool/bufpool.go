// Package bufpool recycles byte buffers in power-of-two size classes, so that a
// connection borrows a buffer only while it has bytes to hold and an idle
// connection owns none.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 9  // smallest class: 512 B
	maxShift = 22 // largest pooled class: 4 MiB; larger buffers are not pooled
)

var pools [maxShift - minShift + 1]sync.Pool

// class returns the index of the smallest class holding n bytes, or -1 if n is
// larger than the largest class.
func class(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxShift {
		return -1
	}
	return shift - minShift
}

// Get returns a buffer with len 0 and cap at least n. Return it with Put.
func Get(n int) *[]byte {
	c := class(n)
	if c < 0 {
		b := make([]byte, 0, n)
		return &b
	}
	if v := pools[c].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 1<<(c+minShift))
	return &b
}

// Put returns a buffer obtained from Get. Buffers of a cap that is not exactly a
// class size (the unpooled large ones) are dropped for the GC.
func Put(b *[]byte) {
	c := class(cap(*b))
	if c < 0 || cap(*b) != 1<<(c+minShift) {
		return
	}
	*b = (*b)[:0]
	pools[c].Put(b)
}

// Grow returns a buffer holding the contents of b with room for at least extra more
// bytes, moving to a larger class (and returning b to the pool) when needed.
func Grow(b *[]byte, extra int) *[]byte {
	need := len(*b) + extra
	if need <= cap(*b) {
		return b
	}
	nb := Get(max(need, 2*cap(*b)))
	*nb = append(*nb, *b...)
	Put(b)
	return nb
}
