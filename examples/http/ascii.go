package main

import "encoding/binary"

// Byte classes of the HTTP grammar (RFC 9110 §5.6.2, RFC 9112 §3.2) and the
// allocation-free helpers the parser uses instead of strings.

// tokenChars marks the tchar bytes that method names and field names are made of.
var tokenChars = func() (table [256]bool) {
	for ch := '0'; ch <= '9'; ch++ {
		table[ch] = true
	}
	for ch := 'a'; ch <= 'z'; ch++ {
		table[ch] = true
		table[ch-'a'+'A'] = true
	}
	for _, ch := range "!#$%&'*+-.^_`|~" {
		table[ch] = true
	}
	return table
}()

// isToken reports whether b is a non-empty run of tchar.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, ch := range b {
		if !tokenChars[ch] {
			return false
		}
	}
	return true
}

// isTarget reports whether b can be a request-target: a non-empty run of
// isTargetChar.
func isTarget(b []byte) bool {
	for _, ch := range b {
		if !isTargetChar(ch) {
			return false
		}
	}
	return len(b) > 0
}

// isTargetChar reports whether ch may be in a request-target: visible ASCII
// only, so no spaces, control bytes or raw non-ASCII (those must be
// percent-encoded). One unsigned comparison: bytes below '!' wrap around.
func isTargetChar(ch byte) bool { return ch-'!' < 0x7f-'!' }

// fieldValueChars marks the bytes a field value may hold: visible ASCII, space,
// tab and obs-text (0x80–0xFF); no control bytes, so no bare CR and no NUL. A
// table costs one load per byte, where the comparisons cost three branches.
var fieldValueChars = func() (table [256]bool) {
	for ch := range table {
		table[ch] = (ch >= ' ' || ch == '\t') && ch != 0x7f
	}
	return table
}()

// isFieldValue reports whether every byte of b may be in a field value.
func isFieldValue(b []byte) bool {
	for _, ch := range b {
		if !fieldValueChars[ch] {
			return false
		}
	}
	return true
}

func isDigit(ch byte) bool { return '0' <= ch && ch <= '9' }

// hasPrefix reports whether b starts with prefix; with a constant prefix the
// comparison compiles to a few word loads.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// trimSpace drops the optional whitespace (spaces and tabs) around b.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// tokenEqualFold is equalFold for a token b and a lower made of lower-case
// letters, digits and '-'. Setting bit 0x20 of a byte turns an upper-case letter
// into its lower case and leaves those three classes as they are, and the only
// token bytes it turns into one of them are the upper-case letters; so one OR
// per byte replaces equalFold's comparisons.
func tokenEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, ch := range b {
		if ch|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// equalFold reports whether b equals lower, a lower-case ASCII string, ignoring
// the case of ASCII letters in b. Field names and Connection options are
// case-insensitive.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != lower[i] {
			return false
		}
	}
	return true
}

// Word-at-a-time checks: the fast paths of the parser test eight bytes, loaded as
// one little-endian word, with a few arithmetic operations, and step through a
// word byte by byte only when it holds a byte that ends or breaks the run. The
// tests are exact, with no false positives: anyBelow is the classic "has less
// than" (a byte at or above n borrows nothing, so only a byte below n sets its
// high bit in x - n*ones; bytes with the high bit set are masked by ^x), and
// anyEqual is anyBelow(x ^ c*ones, 1).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load64 returns b's first eight bytes as a little-endian word.
func load64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// load16 returns b's first two bytes as a little-endian word.
func load16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// anyBelow reports whether a byte of x is below n, for n at most 0x80.
func anyBelow(x uint64, n byte) bool { return (x-ones*uint64(n))&^x&highs != 0 }

// anyEqual reports whether a byte of x is c.
func anyEqual(x uint64, c byte) bool { return anyBelow(x^ones*uint64(c), 1) }

// allTargetChars reports whether every byte of x is an isTargetChar.
func allTargetChars(x uint64) bool {
	return x&highs == 0 && !anyBelow(x, '!') && !anyEqual(x, 0x7f)
}

// allFieldValueChars reports whether every byte of x is in fieldValueChars and
// none is a tab (which the bytewise loop takes).
func allFieldValueChars(x uint64) bool { return !anyBelow(x, ' ') && !anyEqual(x, 0x7f) }
