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
	contentLength    int // -1 until a Content-Length field is seen
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
	window := b
	if len(window) > maxHeadBytes {
		window = window[:maxHeadBytes]
	}
	pos := skipEmptyLines(window)
	line, next := nextLine(window, pos)
	if next < 0 {
		return request{}, 0, incompleteHead(len(b))
	}
	if failed := parseRequestLine(line, &req); failed != headComplete {
		return request{}, 0, failed
	}
	fields := headFields{contentLength: -1}
	for {
		pos = next
		line, next = nextLine(window, pos)
		if next < 0 {
			return request{}, 0, incompleteHead(len(b))
		}
		if len(line) == 0 {
			break
		}
		if failed := parseField(line, &fields); failed != headComplete {
			return request{}, 0, failed
		}
	}
	if failed := applyFields(&fields, &req); failed != headComplete {
		return request{}, 0, failed
	}
	return req, next, headComplete
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

// parseField parses one "name: value" header field line (RFC 9110 §5, RFC 9112
// §5) and records the fields the server acts on.
func parseField(line []byte, f *headFields) int {
	if line[0] == ' ' || line[0] == '\t' {
		return statusBadRequest // obsolete line folding (RFC 9112 §5.2)
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return statusBadRequest // no name, or whitespace before the colon
	}
	name, value := line[:colon], trimSpace(line[colon+1:])
	if !isFieldValue(value) {
		return statusBadRequest
	}
	switch {
	case equalFold(name, "host"):
		f.hosts++
	case equalFold(name, "content-length"):
		return recordContentLength(value, f)
	case equalFold(name, "transfer-encoding"):
		f.transferEncoding = true
	case equalFold(name, "connection"):
		recordConnection(value, f)
	case equalFold(name, "expect"):
		// Other expectations are ignored, which RFC 9110 §10.1.1 allows.
		f.expectContinue = f.expectContinue || equalFold(value, "100-continue")
	}
	return headComplete
}

// recordContentLength parses a Content-Length value: digits only, and a second
// Content-Length field must repeat the first (RFC 9112 §6.3). A value above
// maxBodyBytes is remembered as too long rather than parsed to the end.
func recordContentLength(value []byte, f *headFields) int {
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
	if f.contentLength >= 0 && f.contentLength != length {
		return statusBadRequest
	}
	f.contentLength = length
	f.tooLong = length > maxBodyBytes
	return headComplete
}

// recordConnection notes the close and keep-alive options in a Connection value,
// a comma-separated list of tokens.
func recordConnection(value []byte, f *headFields) {
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
	req.contentLength = max(f.contentLength, 0)
	req.expectContinue = f.expectContinue
	if req.minor == 0 {
		req.keepAlive = f.connKeepAlive && !f.connClose
	} else {
		req.keepAlive = !f.connClose
	}
	return headComplete
}
