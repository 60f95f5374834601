package main

import "bytes"

// The request-head parser: a pure function over the bytes a conn has buffered, so
// that it can be tested and fuzzed without a socket. It never copies and never
// converts to string; every slice in a request points into the input.

// Limits on what a client may send. They are what keeps a hostile client from
// making the server buffer without bound: a head that does not end within
// maxHeadBytes is answered with 431, a body longer than maxBodyBytes with 413.
const (
	// maxHeadBytes bounds the request line, the header fields and the blank line
	// after them (and any empty lines before the request line): 8 KiB, the limit
	// most servers use (nginx's default large_client_header_buffers line, Apache's
	// LimitRequestFieldSize).
	maxHeadBytes = 8 << 10
	// maxBodyBytes bounds a Content-Length body. The server keeps a body it has
	// not received in full in the conn's buffer until it has, so this is also the
	// most input one conn may hold.
	maxBodyBytes = 1 << 20
)

// Outcomes of parseRequest other than an HTTP error status.
const (
	// headComplete: the head was parsed; the request and its length are valid.
	headComplete = 0
	// needMore: the head is incomplete and still under maxHeadBytes; wait for
	// more bytes and parse again from the start.
	needMore = 1
)

// HTTP statuses the parser answers bad input with. The handler sends them, then
// closes the conn.
const (
	statusBadRequest           = 400
	statusContentTooLarge      = 413
	statusHeaderFieldsTooLarge = 431
	statusNotImplemented       = 501
	statusVersionNotSupported  = 505
)

// method is the request method, as far as this server tells them apart.
type method uint8

const (
	methodOther method = iota // any other valid token: POST, PUT, OPTIONS, ...
	methodGET
	methodHEAD
)

// request is a parsed request head. Its slices point into the parsed input and are
// valid only as long as the input is.
type request struct {
	method method
	// target is the request-target as sent: origin form ("/json?x=1"), absolute
	// form ("http://host/json") or asterisk form ("*").
	target []byte
	// minor is the HTTP/1 minor version: 0 for HTTP/1.0, 1 for HTTP/1.1 (and for
	// any later 1.x, which a 1.1 server answers as 1.1).
	minor byte
	// keepAlive tells whether the conn stays open after the response: the
	// default of the version, overridden by the Connection header.
	keepAlive bool
	// contentLength is the length of the body that follows the head (0 when the
	// request has none); never more than maxBodyBytes.
	contentLength int
	// expectContinue: the client sent "Expect: 100-continue" and may wait for an
	// interim 100 response before it sends the body.
	expectContinue bool
}

// headFields collects what the header fields say while they are being parsed.
type headFields struct {
	hosts            int
	contentLength    int // valid once hasLength
	hasLength        bool
	tooLong          bool
	transferEncoding bool
	connClose        bool
	connKeepAlive    bool
	expectContinue   bool
}

// parseRequest parses the request head at the start of b. It returns:
//
//   - status headComplete, the request and n, the length of the head (empty lines
//     before the request line included, the body not);
//   - status needMore and n = 0 when b holds no complete head yet but is shorter
//     than maxHeadBytes;
//   - an HTTP error status (400, 413, 431, 501, 505) and n = 0 when the request
//     is malformed, too large or not supported.
//
// A head longer than maxHeadBytes is an error even if it would be valid, and a
// line that is complete is checked at once, so garbage is refused without waiting
// for the rest of the head. Lines may end in CRLF or in a bare LF (RFC 9112 §2.2).
func parseRequest(b []byte) (req request, n int, status int) {
	var p headParser
	if n, status = p.parse(b); status == headComplete {
		req = p.req
	}
	return req, n, status
}

// headParser parses one request head in a single pass over its bytes. When the
// head arrives in pieces, the same parser is given the same head again, longer,
// and goes on from the first line it has not parsed yet: the lines before are
// not scanned again, and input that brings no new line end is not scanned at
// all. The zero value starts a head.
//
// Implementation note: each line is first read by a fast path that validates
// and splits it as it scans (eight bytes at a time through a target or a value,
// see allTargetChars, otherwise one table lookup or comparison per byte), and
// that takes only the common shapes: the request line "METHOD SP target SP
// HTTP/1.x CRLF" and a field "name: value CRLF". Anything else (a bare LF, a
// bad byte, a line not yet complete) goes to the slow path, which finds the end
// of the line and checks it as a whole, so the outcome for any input is the
// same as if every line went the slow way. The request is left in the parser
// rather than returned, which the server reads in place: copying it out cost
// more than parsing wrk's head.
type headParser struct {
	req    request    // what the head said so far; target is set at the end
	target [2]int     // the request-target's start and end in the input
	fields headFields // the fields seen so far
	// pos is where the first line not parsed yet starts: 0 until the request
	// line is parsed (a request line is never empty).
	pos int
	// scanned is how many bytes the last parse saw when it asked for more: none
	// of them after pos is a line end. 0 when it did not.
	scanned int
	// n is the head's length once it is complete, 0 before.
	n int
}

// parse parses the head at the start of b, as parseRequest does, and leaves the
// request in p.req. If p has parsed part of this head before, b must start with
// the bytes it was given then.
func (p *headParser) parse(b []byte) (n int, status int) {
	if p.n > 0 { // complete already; the input may have moved since
		p.req.target = b[p.target[0]:p.target[1]]
		return p.n, headComplete
	}
	window := b
	if len(window) > maxHeadBytes {
		window = window[:maxHeadBytes]
	}
	if p.scanned > 0 && bytes.IndexByte(window[p.scanned:], '\n') < 0 {
		return 0, incompleteHead(len(b)) // the line at pos has no end yet
	}
	pos, status := p.pos, headComplete
	if pos == 0 {
		pos, status = p.requestLine(window, skipEmptyLines(window))
	}
	for status == headComplete {
		p.pos = pos
		switch {
		case pos < len(window) && window[pos] == '\n':
			return p.complete(b, pos+1)
		case pos+1 < len(window) && window[pos] == '\r' && window[pos+1] == '\n':
			return p.complete(b, pos+2)
		}
		pos, status = p.field(window, pos)
	}
	if status == needMore {
		p.scanned = len(window)
		status = incompleteHead(len(b))
	}
	return 0, status
}

// complete finishes a head of n bytes at the start of b, whose lines are all
// parsed, with the checks that take the fields as a whole.
func (p *headParser) complete(b []byte, n int) (int, int) {
	if failed := applyFields(&p.fields, &p.req); failed != headComplete {
		return 0, failed
	}
	p.n = n
	p.req.target = b[p.target[0]:p.target[1]]
	return n, headComplete
}

// incompleteHead is the status for input of length total that holds no complete
// head: wait for more while there is room under maxHeadBytes, 431 once not.
func incompleteHead(total int) int {
	if total >= maxHeadBytes {
		return statusHeaderFieldsTooLarge
	}
	return needMore
}

// skipEmptyLines returns the index of the first byte after the empty lines (CRLF
// or LF) that b starts with: RFC 9112 §2.2 asks servers to ignore them before a
// request line. A lone CR at the end is left for the next parse.
func skipEmptyLines(b []byte) int {
	pos := 0
	for pos < len(b) {
		switch {
		case b[pos] == '\n':
			pos++
		case b[pos] == '\r' && pos+1 < len(b) && b[pos+1] == '\n':
			pos += 2
		default:
			return pos
		}
	}
	return pos
}

// nextLine returns the line that starts at pos without its line ending, and the
// index after the ending; next is -1 when no line ending follows pos yet.
func nextLine(b []byte, pos int) (line []byte, next int) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		return nil, -1
	}
	line = b[pos : pos+i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, pos + i + 1
}

// requestLine parses the request line at b[pos:] (RFC 9112 §3): "METHOD SP
// request-target SP HTTP/x.y". It returns the index after the line, or needMore
// when the line has no end yet, or an error status.
func (p *headParser) requestLine(b []byte, pos int) (next int, status int) {
	i := pos
	switch {
	case hasPrefix(b[i:], "GET "):
		p.req.method, i = methodGET, i+len("GET")
	case hasPrefix(b[i:], "HEAD "):
		p.req.method, i = methodHEAD, i+len("HEAD")
	default:
		var ok bool
		if i, ok = tokenBefore(b, pos, ' '); !ok {
			return p.slowRequestLine(b, pos)
		}
		p.req.method = methodOf(b[pos:i])
	}
	i++ // the space
	start := i
	for i+8 <= len(b) && allTargetChars(load64(b[i:])) {
		i += 8
	}
	for i < len(b) && isTargetChar(b[i]) {
		i++
	}
	if i == start || i == len(b) || b[i] != ' ' {
		return p.slowRequestLine(b, pos)
	}
	p.target = [2]int{start, i}
	i++
	if len(b)-i < len("HTTP/1.1\r\n") || load16(b[i+8:]) != crlf16 {
		return p.slowRequestLine(b, pos)
	}
	switch load64(b[i:]) {
	case http11:
		p.req.minor = 1
	case http10:
		p.req.minor = 0
	default:
		return p.slowRequestLine(b, pos)
	}
	return i + len("HTTP/1.1\r\n"), headComplete
}

// tokenBefore returns the end of the run of tchar at b[pos:], and whether the
// run is not empty and delim follows it.
func tokenBefore(b []byte, pos int, delim byte) (end int, ok bool) {
	end = pos
	for end < len(b) && tokenChars[b[end]] {
		end++
	}
	return end, end > pos && end < len(b) && b[end] == delim
}

// The versions the request line's fast path takes, and its line ending, as the
// words load64 and load16 read.
var (
	http11 = load64([]byte("HTTP/1.1"))
	http10 = load64([]byte("HTTP/1.0"))
	crlf16 = load16([]byte("\r\n"))
)

// slowRequestLine parses the request line at b[pos:] as a whole, once it is
// complete.
func (p *headParser) slowRequestLine(b []byte, pos int) (next int, status int) {
	line, next := nextLine(b, pos)
	if next < 0 {
		return 0, needMore
	}
	if failed := parseRequestLine(line, &p.req); failed != headComplete {
		return 0, failed
	}
	start := pos + cap(line) - cap(p.req.target) // the target is a part of line
	p.target = [2]int{start, start + len(p.req.target)}
	p.req.target = nil
	return next, headComplete
}

// parseRequestLine parses "METHOD SP request-target SP HTTP/x.y" (RFC 9112 §3).
func parseRequestLine(line []byte, req *request) int {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		return statusBadRequest
	}
	req.method = methodOf(line[:sp])
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 || !isTarget(rest[:sp]) {
		return statusBadRequest
	}
	req.target = rest[:sp]
	return parseVersion(rest[sp+1:], req)
}

func methodOf(m []byte) method {
	switch string(m) { // a switch on string(m) compiles to comparisons: no allocation
	case "GET":
		return methodGET
	case "HEAD":
		return methodHEAD
	}
	return methodOther
}

// parseVersion accepts "HTTP/" DIGIT "." DIGIT. Major version 1 is served (a
// minor version above 1 as 1.1); any other major version gets 505.
func parseVersion(v []byte, req *request) int {
	if len(v) != len("HTTP/1.1") || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		!isDigit(v[5]) || !isDigit(v[7]) {
		return statusBadRequest
	}
	if v[5] != '1' {
		return statusVersionNotSupported
	}
	req.minor = min(v[7]-'0', 1)
	return headComplete
}

// field parses the header field line at b[pos:] (RFC 9110 §5, RFC 9112 §5),
// "name: value", and records it. It returns the index after the line, or
// needMore when the line has no end yet, or an error status.
func (p *headParser) field(b []byte, pos int) (next int, status int) {
	i, ok := tokenBefore(b, pos, ':')
	if !ok {
		return p.slowField(b, pos)
	}
	name := b[pos:i]
	i++ // the colon
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	start := i
	for i+8 <= len(b) && allFieldValueChars(load64(b[i:])) {
		i += 8
	}
	for i < len(b) && fieldValueChars[b[i]] {
		i++
	}
	if i+1 >= len(b) || b[i] != '\r' || b[i+1] != '\n' {
		return p.slowField(b, pos)
	}
	return i + 2, p.fields.record(name, trimSpace(b[start:i]))
}

// slowField parses the header field line at b[pos:] as a whole, once it is
// complete.
func (p *headParser) slowField(b []byte, pos int) (next int, status int) {
	line, next := nextLine(b, pos)
	if next < 0 {
		return 0, needMore
	}
	return next, parseField(line, &p.fields)
}

// parseField parses one "name: value" header field line and records it.
func parseField(line []byte, f *headFields) int {
	if line[0] == ' ' || line[0] == '\t' {
		return statusBadRequest // obsolete line folding (RFC 9112 §5.2)
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return statusBadRequest // no name, or whitespace before the colon
	}
	value := trimSpace(line[colon+1:])
	if !isFieldValue(value) {
		return statusBadRequest
	}
	return f.record(line[:colon], value)
}

// record notes a field the server acts on; name is a token, value a valid field
// value without the whitespace around it.
func (f *headFields) record(name, value []byte) int {
	switch len(name) { // a length rules out all names but one
	case len("host"):
		if tokenEqualFold(name, "host") {
			f.hosts++
		}
	case len("content-length"):
		if tokenEqualFold(name, "content-length") {
			return f.recordContentLength(value)
		}
	case len("transfer-encoding"):
		f.transferEncoding = f.transferEncoding || tokenEqualFold(name, "transfer-encoding")
	case len("connection"):
		if tokenEqualFold(name, "connection") {
			f.recordConnection(value)
		}
	case len("expect"):
		// Other expectations are ignored, which RFC 9110 §10.1.1 allows.
		f.expectContinue = f.expectContinue || tokenEqualFold(name, "expect") && equalFold(value, "100-continue")
	}
	return headComplete
}

// recordContentLength parses a Content-Length value: digits only, and a second
// Content-Length field must repeat the first (RFC 9112 §6.3). A value above
// maxBodyBytes is remembered as too long rather than parsed to the end.
func (f *headFields) recordContentLength(value []byte) int {
	if len(value) == 0 {
		return statusBadRequest
	}
	length := 0
	for _, ch := range value {
		if !isDigit(ch) {
			return statusBadRequest
		}
		if length <= maxBodyBytes {
			length = length*10 + int(ch-'0')
		}
	}
	if length > maxBodyBytes {
		length = maxBodyBytes + 1
	}
	if f.hasLength && f.contentLength != length {
		return statusBadRequest
	}
	f.contentLength, f.hasLength = length, true
	f.tooLong = length > maxBodyBytes
	return headComplete
}

// recordConnection notes the close and keep-alive options in a Connection value,
// a comma-separated list of tokens.
func (f *headFields) recordConnection(value []byte) {
	for len(value) > 0 {
		item := value
		if comma := bytes.IndexByte(value, ','); comma >= 0 {
			item, value = value[:comma], value[comma+1:]
		} else {
			value = nil
		}
		item = trimSpace(item)
		f.connClose = f.connClose || equalFold(item, "close")
		f.connKeepAlive = f.connKeepAlive || equalFold(item, "keep-alive")
	}
}

// applyFields checks the fields as a whole and completes req from them.
func applyFields(f *headFields, req *request) int {
	switch {
	case f.hosts > 1 || (f.hosts == 0 && req.minor == 1):
		return statusBadRequest // HTTP/1.1 requires exactly one Host (RFC 9112 §3.2)
	case f.transferEncoding:
		// This server frames bodies by Content-Length only; with a Transfer-Encoding, a
		// Content-Length cannot frame the body either (RFC 9112 §6.3).
		return statusNotImplemented
	case f.tooLong:
		return statusContentTooLarge
	}
	req.contentLength = f.contentLength
	req.expectContinue = f.expectContinue
	if req.minor == 0 {
		req.keepAlive = f.connKeepAlive && !f.connClose
	} else {
		req.keepAlive = !f.connClose
	}
	return headComplete
}
