package main

import "encoding/binary"

// Every message is a pure function of (conn id, sequence number): its length,
// how many messages share its write, and every byte. A reader therefore knows
// exactly what it must get back, and an echo delivered to the wrong conn, out
// of order, twice, or cut short cannot pass for the right one.
const (
	// maxMsgLen is the longest message; lengths run from 1 B to 4 KiB, so
	// both a one-byte read and a read that spans pages are exercised.
	maxMsgLen = 4 << 10
	// maxBatch is the most messages written at once (pipelined): a batch is
	// at most 16 KiB, which fits the client's socket receive buffer, so the
	// server's echo never blocks while the client is still writing.
	maxBatch = 4
	// golden is 2^64 divided by the golden ratio, the splitmix64 increment:
	// it spreads consecutive counters across the whole 64-bit range.
	golden = 0x9e3779b97f4a7c15
	// batchSalt separates the batch-size draw from the length draw of the
	// same message.
	batchSalt = 0x6261746368 // "batch"
)

// mix64 is splitmix64's finaliser: a bijection on 64 bits in which every
// input bit changes about half the output bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// msgSeed is the hash of (id, seq) that every property of the message is
// drawn from.
func msgSeed(id, seq uint64) uint64 {
	return mix64(mix64(id) ^ (seq+1)*golden)
}

// msgLen is the length of message seq of conn id: 1 to maxMsgLen bytes.
func msgLen(id, seq uint64) int {
	return 1 + int(msgSeed(id, seq)%maxMsgLen)
}

// batchLen is how many messages, starting with seq, conn id writes at once:
// one three times in four, otherwise two to maxBatch (pipelined).
func batchLen(id, seq uint64) int {
	h := mix64(msgSeed(id, seq) ^ batchSalt)
	if h%4 != 0 {
		return 1
	}
	return 2 + int(h/4%(maxBatch-1))
}

// fillMsg writes the content of message seq of conn id into dst, which must be
// msgLen(id, seq) long. Byte i is byte i%8 (little-endian) of
// mix64(seed + (i/8)*golden).
func fillMsg(dst []byte, id, seq uint64) {
	seed := msgSeed(id, seq)
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], mix64(seed+uint64(i/8)*golden))
	}
	if i < len(dst) {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], mix64(seed+uint64(i/8)*golden))
		copy(dst[i:], tail[:])
	}
}

// appendBatch appends messages seq … seq+k-1 of conn id to buf.
func appendBatch(buf []byte, id, seq uint64, k int) []byte {
	for j := 0; j < k; j++ {
		n := msgLen(id, seq+uint64(j))
		start := len(buf)
		buf = append(buf, make([]byte, n)...)
		fillMsg(buf[start:], id, seq+uint64(j))
	}
	return buf
}

// firstDiff returns the index of the first byte where got and want differ
// within got's length, or -1 when got is a prefix of want.
func firstDiff(got, want []byte) int {
	n := min(len(got), len(want))
	if string(got[:n]) == string(want[:n]) { // compiles to a memequal, no copy
		if len(got) > len(want) {
			return len(want)
		}
		return -1
	}
	for i := 0; i < n; i++ {
		if got[i] != want[i] {
			return i
		}
	}
	return -1 // unreachable: the strings differ within n
}

// locate turns a byte offset into a batch that starts with message seq of
// conn id into the message it falls in and the offset within that message.
func locate(id, seq uint64, k, off int) (msgSeq uint64, msgOff int) {
	for j := 0; j < k; j++ {
		n := msgLen(id, seq+uint64(j))
		if off < n {
			return seq + uint64(j), off
		}
		off -= n
	}
	return seq + uint64(k), off // past the batch: surplus bytes
}
