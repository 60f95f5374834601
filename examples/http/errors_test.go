package main

import (
	"io"
	"strings"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// rejected sends raw on a new conn and checks that the answer is status with
// "Connection: close", followed by the end of the stream.
func rejected(t *testing.T, addr, raw string, status int, body string) {
	t.Helper()
	cl := dial(t, addr)
	resp, got := cl.roundTrip("GET", raw)
	checkResponse(t, resp, got, status, body)
	if !resp.Close { // ReadResponse turns "Connection: close" into Close
		t.Error("no Connection: close")
	}
	cl.expectEOF()
}

func TestMalformedRequestLineIs400AndCloses(t *testing.T) {
	ts := startServer(t, 1)
	for _, line := range []string{
		"GET /\r\n",                      // no version
		"GET  / HTTP/1.1\r\n",            // two spaces
		"G(T / HTTP/1.1\r\n",             // not a token
		"GET / HTTP/1.1 extra\r\n",       // a fourth part
		"GET / http/1.1\r\n",             // the version is case-sensitive
		"GET / HTTP/1\r\n",               // no minor version
		"GET /\x01 HTTP/1.1\r\n",         // a control byte in the target
		"\x16\x03\x01\x02\x00 / x\r\n",   // a TLS handshake on the wrong port
		"GET / HTTP/1.1\rHost: test\r\n", // a bare CR
	} {
		t.Run("", func(t *testing.T) {
			rejected(t, ts.addrs[0], line+"Host: test\r\n\r\n", 400, "malformed request\n")
		})
	}
}

func TestMalformedHeaderIs400AndCloses(t *testing.T) {
	ts := startServer(t, 1)
	for _, fields := range []string{
		"Host test\r\n",                                            // no colon
		"Host : test\r\n",                                          // a space before the colon
		"Host: test\r\nX-Folded: a\r\n b\r\n",                      // obsolete line folding
		"Host: test\r\nBad\x00Name: v\r\n",                         // not a token
		"Host: test\r\nX-Value: a\x00b\r\n",                        // NUL in a value
		"Host: test\r\nContent-Length: ten\r\n",                    // not a number
		"Host: test\r\nContent-Length: +5\r\n",                     // a sign
		"Host: test\r\nContent-Length: 1\r\nContent-Length: 2\r\n", // conflicting lengths
		"Host: a\r\nHost: b\r\n",                                   // two hosts
		"User-Agent: no-host\r\n",                                  // HTTP/1.1 without Host
	} {
		t.Run("", func(t *testing.T) {
			rejected(t, ts.addrs[0], "GET / HTTP/1.1\r\n"+fields+"\r\n", 400, "malformed request\n")
		})
	}
}

func TestHeadOver8KiBIs431(t *testing.T) {
	ts := startServer(t, 1)
	big := "GET / HTTP/1.1\r\nHost: test\r\nX-Big: " + strings.Repeat("x", 9<<10) + "\r\n\r\n"
	rejected(t, ts.addrs[0], big, 431, "request head over 8 KiB\n")
}

// A head that never ends is refused once it passes 8 KiB, without waiting for
// the end of it.
func TestEndlessHeadIs431WithoutWaitingForItsEnd(t *testing.T) {
	ts := startServer(t, 1)
	rejected(t, ts.addrs[0], "GET / HTTP/1.1\r\nX-Big: "+strings.Repeat("x", 9<<10), 431, "request head over 8 KiB\n")
}

func TestChunkedBodyIs501(t *testing.T) {
	ts := startServer(t, 1)
	raw := "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	rejected(t, ts.addrs[0], raw, 501, "Transfer-Encoding is not supported: frame the body with Content-Length\n")
}

func TestVersionOtherThanHTTP1Is505(t *testing.T) {
	ts := startServer(t, 1)
	for _, version := range []string{"HTTP/2.0", "HTTP/3.0", "HTTP/0.9"} {
		rejected(t, ts.addrs[0], "GET / "+version+"\r\nHost: test\r\n\r\n", 505, "only HTTP/1.x is served\n")
	}
}

func TestBodyOver1MiBIs413(t *testing.T) {
	ts := startServer(t, 1)
	for _, length := range []string{"1048577", "99999999999999999999999999"} {
		raw := "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: " + length + "\r\n\r\n"
		rejected(t, ts.addrs[0], raw, 413, "request body over 1 MiB\n")
	}
}

// A client still uploading a refused body reads the 413, not a connection reset:
// the server shuts its write side and drops the rest of the upload instead of
// closing with unread input (which makes the kernel answer with a reset, and a
// reset can destroy the response before the client reads it). The client reads
// only once the upload is over, so the response waits in its receive buffer
// meanwhile.
func TestRefusedUploadReads413NotAReset(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	const length = 2 << 20
	uploaded := make(chan error, 1)
	go func() {
		head := "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 2097152\r\n\r\n"
		_, err := io.Copy(cl.conn, io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, length)))
		uploaded <- err
	}()
	if err := testutil.Recv(t, uploaded, waitLimit, "the upload to end"); err != nil {
		t.Errorf("upload: %v", err)
	}
	resp, body := cl.read("POST")
	checkResponse(t, resp, body, 413, "request body over 1 MiB\n")
	cl.expectEOF()
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
