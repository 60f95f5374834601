package main

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/sycamore-go/sycamore/transport"
)

// Responses are formatted once, at start-up. Serving a request appends a
// preformatted head, the loop's current Date line, an optional Connection line,
// the blank line and the body to a per-loop scratch buffer: no formatting and no
// allocation per request.

// httpTimeFormat is the IMF-fixdate format of the Date header (RFC 9110 §5.6.7),
// the same as net/http's TimeFormat; net/http is not imported for one constant.
const httpTimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// response is a preformatted response: its status line and fixed header fields
// (everything but Date and Connection), and its body.
type response struct {
	status int
	head   []byte
	body   []byte
}

// newResponse formats a response. extraFields, if not empty, is one or more
// complete header lines ("Allow: GET, HEAD\r\n").
func newResponse(status int, contentType, extraFields, body string) *response {
	head := "HTTP/1.1 " + strconv.Itoa(status) + " " + reasonPhrase(status) + "\r\n" +
		"Server: sycamore\r\n" +
		"Content-Type: " + contentType + "\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		extraFields
	return &response{status: status, head: []byte(head), body: []byte(body)}
}

// reasonPhrase is the status line's reason phrase: net/http's table, except
// that RFC 9110 renamed 413 to "Content Too Large".
func reasonPhrase(status int) string {
	if status == 413 {
		return "Content Too Large"
	}
	return http.StatusText(status)
}

// The responses the server sends. Error bodies say what to change.
var (
	plaintextOK = newResponse(200, "text/plain", "", "Hello, World!")
	jsonOK      = newResponse(200, "application/json", "", `{"message":"Hello, World!"}`)
	// whoami stands for GET /whoami, whose body (the client's address) is made
	// per request by whoamiFor.
	whoami           = newResponse(200, "text/plain", "", "")
	notFound         = newResponse(404, "text/plain", "", "Not Found\n")
	methodNotAllowed = newResponse(405, "text/plain", "Allow: GET, HEAD\r\n", "Method Not Allowed\n")

	badRequest          = newResponse(400, "text/plain", "", "malformed request\n")
	contentTooLarge     = newResponse(413, "text/plain", "", "request body over 1 MiB\n")
	headerTooLarge      = newResponse(431, "text/plain", "", "request head over 8 KiB\n")
	unsupportedEncoding = newResponse(501, "text/plain", "", "Transfer-Encoding is not supported: frame the body with Content-Length\n")
	versionNotSupported = newResponse(505, "text/plain", "", "only HTTP/1.x is served\n")
	headTimedOut        = newResponse(408, "text/plain", "", "request head not received within the header timeout\n")
	requestTimedOut     = newResponse(408, "text/plain", "", "request not received in full within the request timeout\n")

	// continueResponse is the interim response to "Expect: 100-continue".
	continueResponse = []byte("HTTP/1.1 100 Continue\r\n\r\n")
)

// errorResponse returns the response for one of parseRequest's error statuses.
func errorResponse(status int) *response {
	switch status {
	case statusContentTooLarge:
		return contentTooLarge
	case statusHeaderFieldsTooLarge:
		return headerTooLarge
	case statusNotImplemented:
		return unsupportedEncoding
	case statusVersionNotSupported:
		return versionNotSupported
	}
	return badRequest
}

// connHeader says which Connection line, if any, a response carries.
type connHeader uint8

const (
	connDefault   connHeader = iota // none: an HTTP/1.1 conn that stays open
	connKeepAlive                   // an HTTP/1.0 client asked to keep the conn open
	connClose                       // the server closes the conn after this response
)

var connectionLines = [...][]byte{
	connDefault:   nil,
	connKeepAlive: []byte("Connection: keep-alive\r\n"),
	connClose:     []byte("Connection: close\r\n"),
}

// connHeaderFor picks the Connection line for a response to req: HTTP/1.1 keeps
// the conn open by default, HTTP/1.0 closes it unless the client asked otherwise,
// so each version needs the line only when it departs from its default.
func connHeaderFor(req *request, closing bool) connHeader {
	switch {
	case closing:
		return connClose
	case req.minor == 0:
		return connKeepAlive
	}
	return connDefault
}

// appendResponse appends r to dst with the given Date line ("Date: ...\r\n") and
// Connection line; the body is left out for a HEAD request (its Content-Length
// still says how long the body would be).
func appendResponse(dst []byte, r *response, dateLine []byte, conn connHeader, withBody bool) []byte {
	dst = append(dst, r.head...)
	dst = append(dst, dateLine...)
	dst = append(dst, connectionLines[conn]...)
	dst = append(dst, "\r\n"...)
	if withBody {
		dst = append(dst, r.body...)
	}
	return dst
}

// route picks the response to a well-formed request. The target is tried as it
// is first, since what load generators send is a bare path; one with a query or
// in absolute form is tried again as its path.
func route(req *request) *response {
	found := resource(req.target)
	if found == nil {
		if found = resource(pathOf(req.target)); found == nil {
			return notFound
		}
	}
	if req.method != methodGET && req.method != methodHEAD {
		return methodNotAllowed
	}
	return found
}

// resource returns what GET on path answers, or nil for a path not served.
func resource(path []byte) *response {
	switch string(path) { // compiled to comparisons: no allocation
	case "/", "/plaintext":
		return plaintextOK
	case "/json":
		return jsonOK
	case "/whoami":
		return whoami
	}
	return nil
}

// whoamiFor is GET /whoami's answer on c: the client's address as the server
// sees it (ip:port, an IPv6 address in brackets): behind a balancer that sends
// a PROXY header, the client's own, not the balancer's.
func whoamiFor(c *transport.Conn) *response {
	addr := "unknown"
	if a := c.RemoteAddr(); a != nil {
		addr = a.String()
	}
	return newResponse(200, "text/plain", "", addr)
}

// pathOf returns the path of a request-target: the query is dropped, and an
// absolute-form target ("http://host/json", which servers must accept, RFC 9112
// §3.2.2) loses its scheme and authority.
func pathOf(target []byte) []byte {
	if rest, ok := cutScheme(target); ok {
		slash := bytes.IndexByte(rest, '/')
		if slash < 0 {
			return rootPath
		}
		target = rest[slash:]
	}
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		target = target[:q]
	}
	return target
}

// rootPath is the path of an absolute-form target with no path ("http://host").
var rootPath = []byte("/")

// cutScheme removes a leading "http://" or "https://" (in any case).
func cutScheme(target []byte) ([]byte, bool) {
	for _, scheme := range [...]string{"http://", "https://"} {
		if len(target) >= len(scheme) && equalFold(target[:len(scheme)], scheme) {
			return target[len(scheme):], true
		}
	}
	return target, false
}
