package main

import (
	"strings"
	"testing"
	"time"
)

// parseCase is an input and what parseRequest must make of it.
type parseCase struct {
	name   string
	input  string // the head, or what there is of it
	rest   string // bytes after the head: a body, the next request
	status int
	// For headComplete only:
	target    string
	method    method
	minor     byte
	keepAlive bool
	length    int
}

var parseCases = []parseCase{
	{name: "wrk", input: "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\n\r\n", rest: "GET /json",
		target: "/plaintext", method: methodGET, minor: 1, keepAlive: true},
	{name: "bare LF line endings", input: "GET / HTTP/1.1\nHost: a\n\n",
		target: "/", method: methodGET, minor: 1, keepAlive: true},
	{name: "empty lines before the request line", input: "\r\n\nHEAD /json HTTP/1.1\r\nHost: a\r\n\r\n",
		target: "/json", method: methodHEAD, minor: 1, keepAlive: true},
	{name: "close, case-insensitive, in a list", input: "GET / HTTP/1.1\r\nhOsT: a\r\nConnection: Upgrade, CLOSE\r\n\r\n",
		target: "/", method: methodGET, minor: 1},
	{name: "1.0 closes by default", input: "GET / HTTP/1.0\r\n\r\n",
		target: "/", method: methodGET},
	{name: "1.0 keep-alive", input: "GET / HTTP/1.0\r\nConnection:keep-alive\r\n\r\n",
		target: "/", method: methodGET, keepAlive: true},
	{name: "1.0 close wins over keep-alive", input: "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
		target: "/", method: methodGET},
	{name: "1.2 is served as 1.1", input: "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
		target: "/", method: methodGET, minor: 1, keepAlive: true},
	{name: "body length, repeated equal", input: "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length:\t5 \r\n\r\n", rest: "hello",
		target: "/x", method: methodOther, minor: 1, keepAlive: true, length: 5},
	{name: "body at the limit", input: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n",
		target: "/", method: methodOther, minor: 1, keepAlive: true, length: maxBodyBytes},
	{name: "obs-text and tabs in a value", input: "GET / HTTP/1.1\r\nHost: a\r\nX-V: \xe9t\xe9\t1\r\n\r\n",
		target: "/", method: methodGET, minor: 1, keepAlive: true},

	{name: "empty", input: "", status: needMore},
	{name: "only empty lines", input: "\r\n\r\n", status: needMore},
	{name: "a lone CR", input: "\r", status: needMore},
	{name: "half a request line", input: "GET /pla", status: needMore},
	{name: "no blank line yet", input: "GET / HTTP/1.1\r\nHost: a\r\n", status: needMore},
	{name: "blank line half there", input: "GET / HTTP/1.1\r\nHost: a\r\n\r", status: needMore},

	{name: "lower-case method is a token", input: "get / HTTP/1.1\r\nHost: a\r\n\r\n",
		target: "/", method: methodOther, minor: 1, keepAlive: true},
	{name: "no target", input: "GET HTTP/1.1\r\n\r\n", status: statusBadRequest},
	{name: "leading space", input: " GET / HTTP/1.1\r\n\r\n", status: statusBadRequest},
	{name: "tab separator", input: "GET\t/ HTTP/1.1\r\n\r\n", status: statusBadRequest},
	{name: "version with two digits", input: "GET / HTTP/1.10\r\n\r\n", status: statusBadRequest},
	{name: "version letters", input: "GET / HTTP/x.y\r\n\r\n", status: statusBadRequest},
	{name: "non-ASCII target", input: "GET /\xff HTTP/1.1\r\n\r\n", status: statusBadRequest},
	{name: "empty field name", input: "GET / HTTP/1.1\r\n: x\r\n\r\n", status: statusBadRequest},
	{name: "empty length", input: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", status: statusBadRequest},
	{name: "length list", input: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", status: statusBadRequest},
	{name: "DEL in a value", input: "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", status: statusBadRequest},
	{name: "bad line seen before the end", input: "GET / HTTP/1.1\r\nno colon\r\n", status: statusBadRequest},
	{name: "HTTP/2 preface", input: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: statusVersionNotSupported},
	{name: "chunked", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", status: statusNotImplemented},
	{name: "identity coding", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\n", status: statusNotImplemented},
	{name: "length over the limit", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", status: statusContentTooLarge},
	{name: "length that overflows", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 184467440737095516160\r\n\r\n", status: statusContentTooLarge},
}

func TestParseRequest(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			req, n, status := parseRequest([]byte(tc.input + tc.rest))
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if status != headComplete {
				if n != 0 {
					t.Errorf("consumed %d, want 0", n)
				}
				return
			}
			if n != len(tc.input) {
				t.Errorf("consumed %d, want %d", n, len(tc.input))
			}
			if string(req.target) != tc.target || req.method != tc.method || req.minor != tc.minor ||
				req.keepAlive != tc.keepAlive || req.contentLength != tc.length {
				t.Errorf("got target %q method %d minor %d keepAlive %v length %d", req.target, req.method, req.minor, req.keepAlive, req.contentLength)
			}
		})
	}
}

// The 8 KiB limit: a head that ends exactly at it parses; one byte more is 431,
// complete or not.
func TestParseRequestHeadLimit(t *testing.T) {
	prefix := "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: "
	pad := maxHeadBytes - len(prefix) - len("\r\n\r\n")
	exact := prefix + strings.Repeat("p", pad) + "\r\n\r\n"
	if _, n, status := parseRequest([]byte(exact)); status != headComplete || n != maxHeadBytes {
		t.Errorf("head of exactly %d bytes: status %d, consumed %d", maxHeadBytes, status, n)
	}
	over := prefix + strings.Repeat("p", pad+1) + "\r\n\r\n"
	if _, _, status := parseRequest([]byte(over)); status != statusHeaderFieldsTooLarge {
		t.Errorf("head of %d bytes: status %d, want 431", len(over), status)
	}
	partial := []byte(over[:maxHeadBytes-1])
	if _, _, status := parseRequest(partial); status != needMore {
		t.Errorf("partial head of %d bytes: status %d, want needMore", len(partial), status)
	}
	if _, _, status := parseRequest([]byte(over[:maxHeadBytes])); status != statusHeaderFieldsTooLarge {
		t.Errorf("partial head of %d bytes: status %d, want 431", maxHeadBytes, status)
	}
}

// A head given to one parser a byte at a time is parsed as it would be whole:
// every prefix gets the status a fresh parse gives it, and the whole the same
// request. Lines already parsed are not parsed again: the parser's position
// moves to the start of each line as the line before it completes.
func TestParseGoesOnFromWhereItStopped(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			input := []byte(tc.input + tc.rest)
			var p headParser
			for k := 1; k <= len(input); k++ {
				n, status := p.parse(input[:k])
				_, wantN, wantStatus := parseRequest(input[:k])
				if n != wantN || status != wantStatus {
					t.Fatalf("after %d bytes: consumed %d, status %d; a fresh parse: %d, %d", k, n, status, wantN, wantStatus)
				}
				if status != needMore {
					break
				}
			}
		})
	}
	var p headParser
	head := "GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaa"
	p.parse([]byte(head))
	if want := len("GET / HTTP/1.1\r\nHost: a\r\n"); p.pos != want {
		t.Errorf("after %q: position %d, want %d", head, p.pos, want)
	}
}

func TestPathOf(t *testing.T) {
	for target, want := range map[string]string{
		"/json":                  "/json",
		"/json?x=1":              "/json",
		"http://example.com/a?b": "/a",
		"HTTPS://example.com":    "/",
		"http://example.com?q":   "/",
		"*":                      "*",
	} {
		if got := string(pathOf([]byte(target))); got != want {
			t.Errorf("pathOf(%q) = %q, want %q", target, got, want)
		}
	}
}

// benchHeads are request heads of the kinds load generators and clients send:
// wrk's minimal one, a POST with a body, and a browser-like one with a dozen
// fields.
var benchHeads = []struct{ name, raw string }{
	{"wrk", "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
	{"post", "POST /json HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"},
	{"browser", "GET /json?page=2 HTTP/1.1\r\n" +
		"Host: 127.0.0.1:8080\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Connection: keep-alive\r\n" +
		"Upgrade-Insecure-Requests: 1\r\n" +
		"Sec-Fetch-Dest: document\r\n" +
		"Sec-Fetch-Mode: navigate\r\n" +
		"Sec-Fetch-Site: none\r\n" +
		"Cookie: session=0123456789abcdef; theme=dark\r\n" +
		"Cache-Control: max-age=0\r\n\r\n"},
}

// BenchmarkParse parses benchHeads.
func BenchmarkParse(b *testing.B) {
	for _, bc := range benchHeads {
		b.Run(bc.name, func(b *testing.B) {
			raw := []byte(bc.raw)
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, n, status := parseRequest(raw); status != headComplete || n != len(raw) {
					b.Fatalf("status %d, consumed %d of %d", status, n, len(raw))
				}
			}
		})
	}
}

// BenchmarkParseByteByByte parses the browser head as a client that sends it a
// byte at a time makes the server parse it: once per byte, each time one byte
// longer, with a fresh parser each time (what the server did before it kept its
// parser between reads) or with one parser that goes on where it stopped.
func BenchmarkParseByteByByte(b *testing.B) {
	raw := []byte(benchHeads[len(benchHeads)-1].raw)
	for _, resumed := range []bool{false, true} {
		b.Run(map[bool]string{false: "fresh", true: "resumed"}[resumed], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				var p headParser
				for k := 1; k <= len(raw); k++ {
					if !resumed {
						p = headParser{}
					}
					if n, _ := p.parse(raw[:k]); n == len(raw) {
						break
					}
				}
			}
		})
	}
}

// BenchmarkParseRouteRespond is a request's work on the loop without the
// socket: parse benchHeads, pick the response and build it in a scratch buffer.
func BenchmarkParseRouteRespond(b *testing.B) {
	clock := newDateClock(time.Now())
	scratch := make([]byte, 0, scratchSize)
	for _, bc := range benchHeads {
		b.Run(bc.name, func(b *testing.B) {
			raw := []byte(bc.raw)
			b.ReportAllocs()
			for b.Loop() {
				req, _, status := parseRequest(raw)
				if status != headComplete {
					b.Fatalf("status %d", status)
				}
				scratch = appendResponse(scratch[:0], route(&req), clock.line, connHeaderFor(&req, !req.keepAlive), req.method != methodHEAD)
			}
		})
	}
}
