package main

import "testing"

func TestParseRequestWaitsForTheBlankLine(t *testing.T) {
	req, err := parseRequest([]byte("GET / HTTP/1.1\r\nHost: a\r\n"))
	if err != nil || req.complete {
		t.Fatalf("parseRequest = %+v, %v; want incomplete", req, err)
	}
}

func TestParseRequestCountsHeadAndBodyOfFirstOfPipelined(t *testing.T) {
	first := "POST /x HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n\r\nabcde"
	req, err := parseRequest([]byte(first + "GET / HTTP/1.1\r\n\r\n"))
	if err != nil || !req.complete || req.size != len(first) || req.close {
		t.Fatalf("parseRequest = %+v, %v; want complete, size %d, keep-alive", req, err, len(first))
	}
}

func TestParseRequestConnectionHandling(t *testing.T) {
	cases := map[string]bool{
		"GET / HTTP/1.1\r\n\r\n":                           false,
		"GET / HTTP/1.1\r\nConnection: close\r\n\r\n":      true,
		"GET / HTTP/1.0\r\n\r\n":                           true,
		"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n": false,
	}
	for in, wantClose := range cases {
		req, err := parseRequest([]byte(in))
		if err != nil || req.close != wantClose {
			t.Errorf("parseRequest(%q) = %+v, %v; want close %v", in, req, err, wantClose)
		}
	}
}

func TestParseRequestRefusesWhatItCannotServe(t *testing.T) {
	cases := map[string]error{
		"garbage\r\n\r\n":                                       errBadRequest,
		"GET /\r\n\r\n":                                         errBadRequest,
		"GET / SPDY/3\r\n\r\n":                                  errBadRequest,
		"GET / HTTP/1.1\r\nno colon\r\n\r\n":                    errBadRequest,
		"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n":         errBadRequest,
		"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n":   errBodyTooLarge,
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n": errNotImplemented,
	}
	for in, want := range cases {
		if _, err := parseRequest([]byte(in)); err != want {
			t.Errorf("parseRequest(%q) error = %v, want %v", in, err, want)
		}
	}
}
