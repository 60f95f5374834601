package main

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

// isTarget reports whether b can be a request-target: visible ASCII only, so no
// spaces, control bytes or raw non-ASCII (those must be percent-encoded).
func isTarget(b []byte) bool {
	for _, ch := range b {
		if ch <= ' ' || ch >= 0x7f {
			return false
		}
	}
	return len(b) > 0
}

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
