package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
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
	// Every element costs a 16-byte span while the command is parsed and a
	// 24-byte slice header when it runs, so this caps that scratch space at 40
	// MiB.
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

// span is where an argument lies in a conn's unread bytes: buf[start:end].
// The parser records offsets, not slices, because those bytes may be at
// another address at the next OnData (the transport moves them when it grows
// its buffer).
type span struct{ start, end int }

// request is the parse state of the command at the start of a conn's unread
// bytes: a RESP multibulk request ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or an
// inline one ("GET k\r\n"). The zero value is a command not begun. A command
// that arrives in pieces is parsed as it arrives: parse resumes where the last
// call stopped, so each byte is scanned about once however the command is cut.
//
// The states, in order:
//   - count == 0: the first line (the "*<count>" header, or the whole of an
//     inline command) has not ended yet; searched is how far its end has been
//     looked for.
//   - count > 0, dataEnd == 0: the header is parsed; next is where the next
//     bulk string's "$<length>" line starts, and searched, if past next, how
//     far that line's end has been looked for.
//   - count > 0, dataEnd > 0: that line is parsed too; the string's data runs
//     from next to dataEnd, followed by "\r\n". (Data starts after a header
//     and a "$" line, so dataEnd is never 0 here.)
type request struct {
	count    int
	next     int
	searched int
	dataEnd  int
}

// parse parses the command at the start of buf, resuming from where the last
// call on r stopped; buf must begin with the same bytes as then (more may have
// arrived since). spans holds the arguments parsed so far, as the last call
// returned them (empty for a new command); the arguments parsed now are
// appended, and the new slice is returned with the number of bytes the whole
// command took.
//
// There are four outcomes:
//   - a command: consumed > 0 and len(spans) > 0; r is zero again, ready for
//     the next command;
//   - an empty command (a blank inline line, "*0\r\n"): consumed > 0 and no
//     spans; the caller skips it;
//   - part of a command: consumed == 0 and a nil error; r and spans hold the
//     progress, to be passed back when more bytes arrive;
//   - a protocol error: consumed == 0 and the error; r is not to be used again.
func (r *request) parse(buf []byte, spans []span) ([]span, int, error) {
	if r.count == 0 {
		if len(buf) == 0 {
			return spans, 0, nil
		}
		if buf[0] != '*' {
			return r.parseInline(buf, spans)
		}
		count, end, err := r.parseHeader(buf, errMultibulkLine)
		if end == 0 {
			return spans, 0, err
		}
		if !count.ok || count.n > maxArgs {
			return spans, 0, errMultibulkLength
		}
		if count.n <= 0 {
			*r = request{}
			return spans, end, nil // Redis ignores "*0" and "*-1" requests
		}
		r.count, r.next = int(count.n), end
	}
	for len(spans) < r.count {
		arg, ok, err := r.parseBulk(buf)
		if !ok {
			return spans, 0, err
		}
		spans = append(spans, arg)
	}
	end := r.next
	*r = request{}
	return spans, end, nil
}

// parseBulk parses "$<len>\r\n<len bytes>\r\n" at r.next, or resumes it. It
// returns the string's span and true, or false when more bytes are needed or
// on an error.
func (r *request) parseBulk(buf []byte) (span, bool, error) {
	if r.dataEnd == 0 {
		if r.next >= len(buf) {
			return span{}, false, nil
		}
		if buf[r.next] != '$' {
			return span{}, false, unexpectedByte('$', buf[r.next])
		}
		size, end, err := r.parseHeader(buf, errBulkLine)
		if end == 0 {
			return span{}, false, err
		}
		if !size.ok || size.n < 0 || size.n > maxBulkLen {
			return span{}, false, errBulkLength
		}
		r.next, r.dataEnd = end, end+int(size.n)
	}
	if len(buf)-r.dataEnd < 2 {
		return span{}, false, nil
	}
	if buf[r.dataEnd] != '\r' || buf[r.dataEnd+1] != '\n' {
		return span{}, false, errMissingCRLF
	}
	noteScanned(r.dataEnd + 2 - r.next)
	arg := span{r.next, r.dataEnd}
	r.next, r.dataEnd = r.dataEnd+2, 0
	return arg, true, nil
}

// number is a header's integer and whether it was well formed.
type number struct {
	n  int64
	ok bool
}

// parseHeader reads the line "<type byte><integer>\r\n" at r.next, searching
// for its end from where the last call left off. It returns the integer and
// the offset after the line, or offset 0 when the line is not complete yet,
// or is longer than maxLineLen (then with tooLong).
func (r *request) parseHeader(buf []byte, tooLong error) (number, int, error) {
	from := r.next + 1 // the integer's first byte
	limit := min(len(buf), from+maxLineLen+1)
	cr := r.search(buf, from, limit, '\r')
	switch {
	case cr < 0 && limit-from > maxLineLen:
		return number{}, 0, tooLong
	case cr < 0 || cr+1 == len(buf):
		return number{}, 0, nil // the line, or its '\n', has not arrived yet
	case buf[cr+1] != '\n':
		return number{}, 0, errMissingCRLF
	}
	noteScanned(2) // the type byte and the '\n', which search did not look at
	n, ok := parseInt(buf[from:cr])
	return number{n, ok}, cr + 2, nil
}

// search looks for end in buf[from:limit], starting where the last search of
// this line stopped (r.searched), and returns its offset or -1. It leaves
// r.searched at the byte found, since a line may end in a '\r' whose '\n'
// has not arrived, or at limit.
func (r *request) search(buf []byte, from, limit int, end byte) int {
	start := max(from, r.searched)
	i := bytes.IndexByte(buf[start:limit], end)
	if i < 0 {
		noteScanned(limit - start)
		r.searched = limit
		return -1
	}
	noteScanned(i + 1)
	r.searched = start + i
	return start + i
}

// parseInline parses a line of space-separated words ended by "\n" or "\r\n",
// the form telnet and redis-benchmark's ping_inline use. Quotes are not
// interpreted: redis-cli and client libraries always send multibulk requests.
func (r *request) parseInline(buf []byte, spans []span) ([]span, int, error) {
	limit := min(len(buf), maxLineLen+1)
	nl := r.search(buf, 0, limit, '\n')
	if nl < 0 {
		if limit > maxLineLen {
			return spans, 0, errInlineTooBig
		}
		return spans, 0, nil
	}
	*r = request{}
	for i := 0; i < nl; {
		for i < nl && isSpace(buf[i]) {
			i++
		}
		start := i
		for i < nl && !isSpace(buf[i]) {
			i++
		}
		if i > start {
			spans = append(spans, span{start, i})
		}
	}
	return spans, nl + 1, nil
}

// argsOf appends to args the arguments spans locate in buf, as subslices of
// buf capped at their length, and returns the new slice.
func argsOf(buf []byte, spans []span, args [][]byte) [][]byte {
	args = slices.Grow(args, len(spans))
	for _, s := range spans {
		args = append(args, buf[s.start:s.end:s.end])
	}
	return args
}

// scanHook, when set, is told how many bytes of input each parser step
// examined or passed over: the bytes searched for a line's end, a header
// line's type byte and '\n' once it is complete, and a bulk string's data and
// "\r\n" once they have all arrived. A command parsed in one call thus counts
// its size exactly, and a command parsed in pieces counts more by what was
// looked at again. It is a seam for the tests, which count the parser's work
// with it; the server leaves it nil.
var scanHook func(n int)

func noteScanned(n int) {
	if scanHook != nil {
		scanHook(n)
	}
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
