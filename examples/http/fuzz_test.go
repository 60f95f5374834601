package main

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParse checks parseRequest's contract on any input: it never panics, never
// consumes more than it was given, and either parses a head, asks for more bytes
// (only while under maxHeadBytes), or returns one of the error statuses. A head it
// parses is parsed the same from exactly its own bytes, is still incomplete one
// byte shorter, and can be answered. A parser that asked for more and is given
// the whole input then comes to the same outcome as a fresh one. Seeds:
// parseCases, and the files in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.input + tc.rest))
	}
	f.Add([]byte("GET /json HTTP/1.1\r\nHost: a\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add(bytes.Repeat([]byte("\r\n"), maxHeadBytes/2+1))
	clock := newDateClock(time.Unix(0, 0))
	scratch := make([]byte, 0, scratchSize)
	f.Fuzz(func(t *testing.T, input []byte) {
		req, n, status := parseRequest(input)
		checkResumed(t, input, req, n, status)
		switch status {
		case headComplete:
			checkParsed(t, input, req, n)
			scratch = appendResponse(scratch[:0], route(&req), clock.line, connHeaderFor(&req, !req.keepAlive), req.method != methodHEAD)
		case needMore:
			if len(input) >= maxHeadBytes {
				t.Fatalf("needMore for %d bytes, at or over the %d-byte limit", len(input), maxHeadBytes)
			}
			if n != 0 {
				t.Fatalf("needMore with %d bytes consumed", n)
			}
		case statusBadRequest, statusContentTooLarge, statusHeaderFieldsTooLarge,
			statusNotImplemented, statusVersionNotSupported:
			if n != 0 {
				t.Fatalf("status %d with %d bytes consumed", status, n)
			}
			_ = errorResponse(status)
		default:
			t.Fatalf("unknown status %d", status)
		}
	})
}

// checkParsed checks a head that parseRequest accepted: n bytes of input.
func checkParsed(t *testing.T, input []byte, req request, n int) {
	t.Helper()
	switch {
	case n <= 0 || n > len(input) || n > maxHeadBytes:
		t.Fatalf("consumed %d of %d bytes (limit %d)", n, len(input), maxHeadBytes)
	case req.contentLength < 0 || req.contentLength > maxBodyBytes:
		t.Fatalf("content length %d out of [0, %d]", req.contentLength, maxBodyBytes)
	case req.minor > 1:
		t.Fatalf("minor version %d", req.minor)
	case len(req.target) == 0 || !isTarget(req.target):
		t.Fatalf("bad target %q", req.target)
	}
	again, m, status := parseRequest(input[:n])
	if status != headComplete || m != n || !sameRequest(again, req) {
		t.Fatalf("the head alone parses differently: status %d, consumed %d of %d", status, m, n)
	}
	if _, _, status := parseRequest(input[:n-1]); status != needMore {
		t.Fatalf("the head less its last byte: status %d, want needMore", status)
	}
}

// checkResumed checks that a parser that first sees a part of input (cut after
// its first line end, in its middle, or before its last byte) and asks for more
// comes to the outcome parseRequest had for the whole of it.
func checkResumed(t *testing.T, input []byte, req request, n, status int) {
	t.Helper()
	cuts := []int{len(input) / 2, len(input) - 1}
	if nl := bytes.IndexByte(input, '\n'); nl >= 0 {
		cuts = append(cuts, nl+1)
	}
	for _, cut := range cuts {
		if cut < 0 {
			continue
		}
		var p headParser
		if _, first := p.parse(input[:cut]); first != needMore {
			continue
		}
		m, again := p.parse(input)
		if again != status || m != n || (status == headComplete && !sameRequest(p.req, req)) {
			t.Fatalf("cut at %d, then whole: status %d, consumed %d, request %+v; whole at once: %d, %d, %+v",
				cut, again, m, p.req, status, n, req)
		}
	}
}

// sameRequest reports whether a and b say the same.
func sameRequest(a, b request) bool {
	return a.method == b.method && bytes.Equal(a.target, b.target) && a.minor == b.minor &&
		a.keepAlive == b.keepAlive && a.contentLength == b.contentLength && a.expectContinue == b.expectContinue
}
