package main

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// The word-at-a-time checks agree with the byte classes on every byte value at
// every position of a word, next to bytes of every kind, and on random words.
func TestWordChecksMatchTheByteClasses(t *testing.T) {
	check := func(word [8]byte) {
		t.Helper()
		x := binary.LittleEndian.Uint64(word[:])
		targets, values := true, true
		for _, ch := range word {
			targets = targets && isTargetChar(ch)
			values = values && fieldValueChars[ch] && ch != '\t'
		}
		if got := allTargetChars(x); got != targets {
			t.Fatalf("allTargetChars(%q) = %v, want %v", word, got, targets)
		}
		if got := allFieldValueChars(x); got != values {
			t.Fatalf("allFieldValueChars(%q) = %v, want %v", word, got, values)
		}
	}
	for _, fill := range []byte{'a', '!', '~', ' ', 0x80, 0xff, 0x00, 0x7f, '\t'} {
		for pos := range 8 {
			for ch := range 256 {
				word := [8]byte{fill, fill, fill, fill, fill, fill, fill, fill}
				word[pos] = byte(ch)
				check(word)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 1 << 20 {
		var word [8]byte
		binary.LittleEndian.PutUint64(word[:], rng.Uint64())
		check(word)
	}
}
