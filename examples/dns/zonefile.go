package main

// The master-file format (RFC 1035 §5.1) as NSD and BIND read it: the lexer cuts
// the text into entries of tokens, zoneReader turns each entry into a
// directive or a record (rdata.go reads the RDATA of each type).
//
// What it reads:
//   - $ORIGIN NAME (a relative NAME is under the current origin, as BIND takes
//     it) and $TTL TTL. $INCLUDE and $GENERATE are refused.
//   - OWNER [TTL] [CLASS] TYPE RDATA, TTL and CLASS in either order. An entry
//     that starts with a space or tab has the previous record's owner; "@" is
//     the current origin; a name not ending in "." is under it.
//   - An omitted TTL is $TTL's (RFC 2308 §4), or without one the last TTL
//     written (RFC 1035 §5.1); with neither it is an error. TTLs take BIND's
//     units (1h30m, 2w) and are at most 2^31-1 (RFC 2181 §8).
//   - CLASS is IN or nothing; CH, HS, CS and CLASSnn (but CLASS1) are refused.
//   - ";" starts a comment; "(" and ")" join lines into one entry; a quoted
//     string keeps spaces and ";", and ends on its own line; "\X" is X and
//     "\DDD" the byte DDD (decimal), in names and strings alike.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// token is one field of an entry.
type token struct {
	// text is the field as written, escapes kept; a quoted string without its
	// quotes.
	text   string
	quoted bool
	line   int
}

// entry is one line of a master file, or several joined by parentheses.
type entry struct {
	tokens []token
	// ownerOmitted: the entry starts with a space or tab, so a record has the
	// previous record's owner.
	ownerOmitted bool
	line         int // the entry's first line
}

// lexer reads entries from a master file.
type lexer struct {
	in   *bufio.Reader
	line int  // the line last read, counted from 1
	eof  bool // the reader has no more lines
}

func newLexer(r io.Reader) lexer { return lexer{in: bufio.NewReader(r)} }

// next returns the next entry with at least one token, or io.EOF after the last.
// An error is about line l.line.
func (l *lexer) next() (entry, error) {
	var e entry
	openedAt := 0 // the line of an open "(", or 0
	for {
		text, ok, err := l.readLine()
		if err != nil {
			return e, err
		}
		if !ok {
			if openedAt != 0 {
				return e, fmt.Errorf("the \"(\" of line %d is never closed", openedAt)
			}
			return e, io.EOF
		}
		if len(e.tokens) == 0 && openedAt == 0 {
			e.line = l.line
			e.ownerOmitted = text != "" && (text[0] == ' ' || text[0] == '\t')
		}
		if openedAt, err = l.split(text, &e, openedAt); err != nil {
			return e, err
		}
		if openedAt == 0 && len(e.tokens) > 0 {
			return e, nil
		}
	}
}

// readLine returns the next line without its line end; ok is false after the
// last line.
func (l *lexer) readLine() (text string, ok bool, err error) {
	if l.eof {
		return "", false, nil
	}
	text, err = l.in.ReadString('\n')
	if err == io.EOF {
		l.eof = true
		if text == "" {
			return "", false, nil
		}
	} else if err != nil {
		return "", false, err
	}
	l.line++
	text = strings.TrimSuffix(text, "\n")
	return strings.TrimSuffix(text, "\r"), true, nil
}

// split appends the tokens of one line to e. openedAt is the line of an open
// "(" before the line, or 0; split returns it as the line leaves it.
func (l *lexer) split(text string, e *entry, openedAt int) (int, error) {
	for i := 0; i < len(text); {
		switch c := text[i]; c {
		case ' ', '\t':
			i++
		case ';':
			return openedAt, nil
		case '(':
			if openedAt != 0 {
				return 0, fmt.Errorf("a \"(\" inside the \"(\" of line %d", openedAt)
			}
			openedAt = l.line
			i++
		case ')':
			if openedAt == 0 {
				return 0, errors.New("a \")\" with no \"(\" before it")
			}
			openedAt = 0
			i++
		case '"':
			end := fieldEnd(text, i+1, `"`)
			if end >= len(text) {
				return 0, errors.New("a quoted string that does not end on its line")
			}
			e.tokens = append(e.tokens, token{text: text[i+1 : end], quoted: true, line: l.line})
			i = end + 1
		default:
			end := fieldEnd(text, i, " \t;()\"")
			if end > len(text) {
				return 0, errors.New("a \"\\\" at the end of a line")
			}
			e.tokens = append(e.tokens, token{text: text[i:end], line: l.line})
			i = end
		}
	}
	return openedAt, nil
}

// fieldEnd returns the index of the first byte of text at or after i that is
// in stops and not escaped by a backslash; len(text) if there is none, or
// len(text)+1 if text ends with an unfinished escape.
func fieldEnd(text string, i int, stops string) int {
	for i < len(text) {
		switch {
		case text[i] == '\\':
			i += 2
		case strings.IndexByte(stops, text[i]) >= 0:
			return i
		default:
			i++
		}
	}
	return i
}

// zoneReader turns entries into records, keeping what one entry leaves for the
// next: the origin, the default TTL and the last owner and TTL.
type zoneReader struct {
	file   string
	lex    lexer
	origin []byte // the current origin, wire form; nil before the first
	// defaultTTL is $TTL's, lastTTL the last one a record wrote.
	defaultTTL, lastTTL         uint32
	haveDefaultTTL, haveLastTTL bool
	owner                       []byte // the previous record's owner
}

// errorAt returns an error about line of the file (0: the whole file).
func (p *zoneReader) errorAt(line int, format string, args ...any) error {
	return &zoneError{file: p.file, line: line, err: fmt.Errorf(format, args...)}
}

// entry reads one entry: a directive, or a record (isRecord).
func (p *zoneReader) entry(e entry) (rec record, isRecord bool, err error) {
	first := e.tokens[0]
	if !e.ownerOmitted && !first.quoted && strings.HasPrefix(first.text, "$") {
		return rec, false, p.directive(e)
	}
	rec.line = e.line
	fields := e.tokens
	if e.ownerOmitted {
		if p.owner == nil {
			return rec, false, p.errorAt(e.line, "no owner name, and no record before this one to take it from")
		}
	} else {
		if p.owner, err = p.name(first); err != nil {
			return rec, false, err
		}
		fields = fields[1:]
	}
	rec.owner = p.owner
	ttlGiven := false
	for ; len(fields) > 0 && !fields[0].quoted; fields = fields[1:] {
		text := fields[0].text
		if isDigit(text[0]) {
			if ttlGiven {
				return rec, false, p.errorAt(fields[0].line, "a second TTL, %q", text)
			}
			if rec.ttl, err = p.ttl(fields[0]); err != nil {
				return rec, false, err
			}
			ttlGiven = true
		} else if !p.isClass(text) {
			break
		} else if !strings.EqualFold(text, "IN") && !strings.EqualFold(text, "CLASS1") {
			return rec, false, p.errorAt(fields[0].line, "class %s: %w (IN is)", text, errUnsupported)
		}
	}
	if len(fields) == 0 {
		return rec, false, p.errorAt(e.line, "no record type")
	}
	if rec.ttl, err = p.recordTTL(rec.ttl, ttlGiven, e.line); err != nil {
		return rec, false, err
	}
	if rec.rrtype, err = p.rrtype(fields[0]); err != nil {
		return rec, false, err
	}
	rec.rdata, err = p.rdata(rec.rrtype, fields[0], fields[1:])
	return rec, err == nil, err
}

// recordTTL returns the TTL of a record that wrote ttl (given) or none.
func (p *zoneReader) recordTTL(ttl uint32, given bool, line int) (uint32, error) {
	switch {
	case given:
		p.lastTTL, p.haveLastTTL = ttl, true
		return ttl, nil
	case p.haveDefaultTTL:
		return p.defaultTTL, nil
	case p.haveLastTTL:
		return p.lastTTL, nil
	}
	return 0, p.errorAt(line, "no TTL, and no $TTL before this record")
}

// isClass reports whether text names a class.
func (p *zoneReader) isClass(text string) bool {
	for _, class := range [...]string{"IN", "CH", "CHAOS", "HS", "HESIOD", "CS", "CSNET"} {
		if strings.EqualFold(text, class) {
			return true
		}
	}
	return len(text) > 5 && strings.EqualFold(text[:5], "CLASS") && isDigit(text[5])
}

// directive reads a $ entry.
func (p *zoneReader) directive(e entry) error {
	name, args := e.tokens[0].text, e.tokens[1:]
	switch {
	case strings.EqualFold(name, "$ORIGIN"), strings.EqualFold(name, "$TTL"):
		if len(args) != 1 {
			return p.errorAt(e.line, "%s takes one argument, not %d", name, len(args))
		}
	case strings.EqualFold(name, "$INCLUDE"), strings.EqualFold(name, "$GENERATE"):
		return p.errorAt(e.line, "%s: %w", name, errUnsupported)
	default:
		return p.errorAt(e.line, "unknown directive %s", name)
	}
	var err error
	if strings.EqualFold(name, "$TTL") {
		p.defaultTTL, err = p.ttl(args[0])
		p.haveDefaultTTL = err == nil
		return err
	}
	p.origin, err = p.name(args[0])
	return err
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
