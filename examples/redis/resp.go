package main

import (
	"bytes"
	"errors"
	"fmt"
)

// Limits of the request parser. They are Redis's own defaults, so that a client
// that works against redis-server works here and a hostile one is cut off at the
// same point.
const (
	// maxLineLen is the longest line without a line ending the parser waits on:
	// an inline command, or a "*<count>" or "$<length>" header (Redis's
	// PROTO_INLINE_MAX_SIZE). Beyond it the client is not speaking RESP.
	maxLineLen = 64 << 10
	// maxArgs is the largest element count a multibulk request may announce.
	// Every element costs a 24-byte slice header while the command is parsed, so
	// this caps that scratch space at 24 MiB.
	maxArgs = 1 << 20
	// maxBulkLen is the largest bulk string a request may carry (Redis's
	// proto-max-bulk-len default).
	maxBulkLen = 512 << 20
)

// Protocol errors. Each is answered with "-ERR Protocol error: <text>" and the
// connection is closed, as redis-server does.
var (
	errMultibulkLength = errors.New("invalid multibulk length")
	errBulkLength      = errors.New("invalid bulk length")
	errMultibulkLine   = errors.New("too big mbulk count string")
	errBulkLine        = errors.New("too big bulk count string")
	errInlineTooBig    = errors.New("too big inline request")
	errMissingCRLF     = errors.New("expected CRLF")
)

// parseCommand parses the one command at the start of buf: a RESP multibulk
// request ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or an inline one ("GET k\r\n").
// The arguments are appended to args as subslices of buf (nothing is copied, so
// they are valid as long as buf is) and the new slice is returned with the number
// of bytes the command took.
//
// There are four outcomes:
//   - a command: consumed > 0 and len(args) > 0;
//   - an empty command (a blank inline line, "*0\r\n"): consumed > 0 and no args;
//     the caller skips it;
//   - part of a command: consumed == 0 and a nil error; wait for more bytes;
//   - a protocol error: consumed == 0 and the error.
//
// It is a pure function of buf: it keeps no state between calls, so a command that
// arrives in pieces is parsed again from its start each time. Header lines are
// short and bulk data is skipped by its length, so that costs little.
func parseCommand(buf []byte, args [][]byte) ([][]byte, int, error) {
	if len(buf) == 0 {
		return args, 0, nil
	}
	if buf[0] == '*' {
		return parseMultibulk(buf, args)
	}
	return parseInline(buf, args)
}

// parseMultibulk parses "*<n>\r\n" followed by n bulk strings.
func parseMultibulk(buf []byte, args [][]byte) ([][]byte, int, error) {
	count, pos, err := parseHeader(buf, 0, errMultibulkLine)
	if pos == 0 {
		return args, 0, err
	}
	if !count.ok || count.n > maxArgs {
		return args, 0, errMultibulkLength
	}
	if count.n <= 0 {
		return args, pos, nil // Redis ignores "*0" and "*-1" requests
	}
	start := len(args)
	for i := int64(0); i < count.n; i++ {
		var arg []byte
		arg, pos, err = parseBulk(buf, pos)
		if pos == 0 {
			return args[:start], 0, err
		}
		args = append(args, arg)
	}
	return args, pos, nil
}

// parseBulk parses "$<len>\r\n<len bytes>\r\n" at buf[at:]. It returns the
// string and the position after it, or position 0 for more bytes or an error.
func parseBulk(buf []byte, at int) ([]byte, int, error) {
	if at >= len(buf) {
		return nil, 0, nil
	}
	if buf[at] != '$' {
		return nil, 0, unexpectedByte('$', buf[at])
	}
	size, pos, err := parseHeader(buf, at, errBulkLine)
	if pos == 0 {
		return nil, 0, err
	}
	if !size.ok || size.n < 0 || size.n > maxBulkLen {
		return nil, 0, errBulkLength
	}
	n := int(size.n)
	if len(buf)-pos < n+2 {
		return nil, 0, nil
	}
	if buf[pos+n] != '\r' || buf[pos+n+1] != '\n' {
		return nil, 0, errMissingCRLF
	}
	return buf[pos : pos+n : pos+n], pos + n + 2, nil
}

// number is a header's integer and whether it was well formed.
type number struct {
	n  int64
	ok bool
}

// parseHeader reads the line "<type byte><integer>\r\n" at buf[at:]. It returns
// the integer and the position after the line, or position 0 when the line is not
// complete yet, or is longer than maxLineLen (then with tooLong).
func parseHeader(buf []byte, at int, tooLong error) (number, int, error) {
	rest := buf[at+1:]
	window := rest[:min(len(rest), maxLineLen+1)]
	cr := bytes.IndexByte(window, '\r')
	switch {
	case cr < 0 && len(window) > maxLineLen:
		return number{}, 0, tooLong
	case cr < 0 || cr+1 == len(rest):
		return number{}, 0, nil // the line, or its '\n', has not arrived yet
	case rest[cr+1] != '\n':
		return number{}, 0, errMissingCRLF
	}
	n, ok := parseInt(rest[:cr])
	return number{n, ok}, at + 1 + cr + 2, nil
}

// parseInline parses a line of space-separated words ended by "\n" or "\r\n",
// the form telnet and redis-benchmark's ping_inline use. Quotes are not
// interpreted: redis-cli and client libraries always send multibulk requests.
func parseInline(buf []byte, args [][]byte) ([][]byte, int, error) {
	window := buf[:min(len(buf), maxLineLen+1)]
	nl := bytes.IndexByte(window, '\n')
	if nl < 0 {
		if len(window) > maxLineLen {
			return args, 0, errInlineTooBig
		}
		return args, 0, nil
	}
	line := buf[:nl]
	for i := 0; i < len(line); {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		start := i
		for i < len(line) && !isSpace(line[i]) {
			i++
		}
		if i > start {
			args = append(args, line[start:i:i])
		}
	}
	return args, nl + 1, nil
}

// isSpace reports whether b separates inline arguments; '\r' is one, so a
// trailing "\r" before "\n" disappears with the other blanks.
func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\v' || b == '\f'
}

// parseInt parses a decimal int64 the way Redis's string2ll does: an optional
// '-', then digits with no leading zero (except "0" itself), no '+', no spaces,
// and no overflow. It allocates nothing.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var u uint64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		if u > (1<<63)/10 {
			return 0, false // u*10 alone would pass 1<<63
		}
		u = u*10 + uint64(d-'0')
		if u > 1<<63 {
			return 0, false
		}
	}
	switch {
	case neg:
		return -int64(u), true // -(1<<63) wraps to itself: MinInt64
	case u > 1<<63-1:
		return 0, false
	}
	return int64(u), true
}

// unexpectedByte is the error for a request element that does not start with the
// type byte it must have. A byte that would break the reply line (a control byte
// or a non-ASCII one) is shown by its value.
func unexpectedByte(want, got byte) error {
	if got < ' ' || got > '~' {
		return fmt.Errorf("expected '%c', got byte 0x%02x", want, got)
	}
	return fmt.Errorf("expected '%c', got '%c'", want, got)
}
