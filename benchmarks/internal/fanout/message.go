package fanout

import (
	"fmt"
	"strconv"
)

// Every published message is MessageSize bytes of text that name its
// publisher and its place in that publisher's sequence:
//
//	0003 0000000000001234 fanout-message-fanout-message-fanout-messa
//	^id  ^sequence number  ^filler up to 64 bytes
//
// A subscriber can therefore tell, from each message alone, whether it is the
// next one of its publisher: nothing missing, repeated or out of order.
const (
	// MessageSize is the length of every message, the payload of PUBLISH.
	MessageSize = 64
	// idDigits and seqDigits are the widths of the two numbers, zero-padded:
	// 10,000 publishers and 10^16 messages each are more than any run makes.
	idDigits  = 4
	seqDigits = 16
	// seqOffset is where the sequence number starts, after the id and a space.
	seqOffset = idDigits + 1
	// fillerOffset is where the filler starts, after the sequence number and
	// a space.
	fillerOffset = seqOffset + seqDigits + 1
	// maxPublishers is the most publishers idDigits can tell apart.
	maxPublishers = 10000
	// filler is what the rest of a message repeats.
	filler = "fanout-message-"
)

// newMessage returns the message of publisher id with sequence number seq.
func newMessage(id int, seq uint64) []byte {
	m := make([]byte, MessageSize)
	for i := range m[fillerOffset:] {
		m[fillerOffset+i] = filler[i%len(filler)]
	}
	putDigits(m[:idDigits], uint64(id))
	m[idDigits] = ' '
	putSeq(m, seq)
	m[fillerOffset-1] = ' '
	return m
}

// putSeq writes seq into message m in place, so that a publisher rewrites one
// field of its batch per PUBLISH instead of building a command.
func putSeq(m []byte, seq uint64) { putDigits(m[seqOffset:seqOffset+seqDigits], seq) }

// putDigits writes v into dst in decimal, zero-padded to len(dst); digits
// beyond len(dst) are dropped.
func putDigits(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// parseMessage returns the publisher id and sequence number of message m.
func parseMessage(m []byte) (id int, seq uint64, err error) {
	if len(m) != MessageSize || m[idDigits] != ' ' || m[fillerOffset-1] != ' ' {
		return 0, 0, fmt.Errorf("%w: message %q is not one of ours", ErrProtocol, m)
	}
	n, ok := parseDigits(m[:idDigits])
	seq, ok2 := parseDigits(m[seqOffset : seqOffset+seqDigits])
	if !ok || !ok2 {
		return 0, 0, fmt.Errorf("%w: message %q is not one of ours", ErrProtocol, m)
	}
	return int(n), seq, nil
}

// parseDigits parses a zero-padded decimal number (at most 19 digits, so it
// cannot overflow).
func parseDigits(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, len(b) > 0
}

// bulk appends s to dst as a RESP bulk string: $<len>\r\n<s>\r\n.
func bulk(dst []byte, s []byte) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, s...)
	return append(dst, "\r\n"...)
}

// command returns args as a RESP array of bulk strings, as clients send
// commands.
func command(args ...[]byte) []byte {
	b := append([]byte{'*'}, strconv.Itoa(len(args))...)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = bulk(b, a)
	}
	return b
}
