package hello

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseRequestWaitsForTheBlankLine(t *testing.T) {
	req, err := ParseRequest([]byte("GET / HTTP/1.1\r\nHost: a\r\n"))
	if err != nil || req.Complete {
		t.Fatalf("ParseRequest = %+v, %v; want incomplete", req, err)
	}
}

func TestParseRequestCountsHeadAndBodyOfFirstOfPipelined(t *testing.T) {
	first := "POST /x HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n\r\nabcde"
	req, err := ParseRequest([]byte(first + "GET / HTTP/1.1\r\n\r\n"))
	if err != nil || !req.Complete || req.Size != len(first) || req.Close {
		t.Fatalf("ParseRequest = %+v, %v; want complete, size %d, keep-alive", req, err, len(first))
	}
}

// TestParseRequestReadsConnectionAndRefusesWhatItCannotServe: close is the
// wanted Request.Close of a request served, err the error of one refused.
func TestParseRequestReadsConnectionAndRefusesWhatItCannotServe(t *testing.T) {
	cases := []struct {
		in    string
		close bool
		err   error
	}{
		{"GET / HTTP/1.1\r\n\r\n", false, nil},
		{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", true, nil},
		{"GET / HTTP/1.0\r\n\r\n", true, nil},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", false, nil},
		{"garbage\r\n\r\n", false, ErrBadRequest},
		{"GET /\r\n\r\n", false, ErrBadRequest},
		{"GET / SPDY/3\r\n\r\n", false, ErrBadRequest},
		{"GET / HTTP/1.1\r\nno colon\r\n\r\n", false, ErrBadRequest},
		{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", false, ErrBadRequest},
		{"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", false, ErrBodyTooLarge},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", false, ErrNotImplemented},
	}
	for _, c := range cases {
		req, err := ParseRequest([]byte(c.in))
		if err != c.err || req.Close != c.close {
			t.Errorf("ParseRequest(%q) = %+v, %v; want close %v, error %v", c.in, req, err, c.close, c.err)
		}
	}
}

const get = "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n"

func TestScanCountsEveryCompleteRequestOfAPipelinedBurst(t *testing.T) {
	b := []byte(strings.Repeat(get, 16))
	if got, want := Scan(b), (Batch{Requests: 16, Used: len(b)}); got != want {
		t.Fatalf("Scan = %+v, want %+v", got, want)
	}
}

func TestScanStopsBeforeAPartialRequestAndSaysWhatItNeeds(t *testing.T) {
	head := "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
	cases := []struct {
		in   string
		want Batch
	}{
		{get + get[:10], Batch{Requests: 1, Used: len(get), Need: len(get) + 11}},
		{get + head + "ab", Batch{Requests: 1, Used: len(get), Need: len(get) + len(head) + 5}},
		{"", Batch{}},
	}
	for _, c := range cases {
		if got := Scan([]byte(c.in)); got != c.want {
			t.Errorf("Scan(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestScanStopsAtCloseAndAtARefusal(t *testing.T) {
	closing := "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"
	if got, want := Scan([]byte(get+closing+get)), (Batch{Requests: 2, Used: len(get + closing), Close: true}); got != want {
		t.Errorf("Scan with close = %+v, want %+v", got, want)
	}
	if got, want := Scan([]byte(get+"nonsense\r\n\r\n"+get)), (Batch{Requests: 1, Used: len(get), Err: ErrBadRequest}); got != want {
		t.Errorf("Scan with garbage = %+v, want %+v", got, want)
	}
	long := []byte(get + "GET / HTTP/1.1\r\nX: " + strings.Repeat("x", MaxHead))
	if got, want := Scan(long), (Batch{Requests: 1, Used: len(get), Err: ErrHeadTooLarge}); got != want {
		t.Errorf("Scan with an oversized head = %+v, want %+v", got, want)
	}
}

func TestResponderSendsHelloWithDateAndRefusesWithStatus(t *testing.T) {
	r := &Responder{server: "gnet"}
	r.refresh(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	want := "HTTP/1.1 200 OK\r\nServer: gnet\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n" +
		"Date: Fri, 02 Jan 2026 03:04:05 GMT\r\n\r\nHello, World!"
	if got := r.Response(); string(got) != want {
		t.Errorf("Response = %q, want %q", got, want)
	}
	if got := r.Refusal(ErrHeadTooLarge); !bytes.HasPrefix(got, []byte("HTTP/1.1 431 Request Header Fields Too Large\r\n")) ||
		!bytes.HasSuffix(got, []byte("Connection: close\r\n\r\n")) {
		t.Errorf("Refusal = %q", got)
	}
}
