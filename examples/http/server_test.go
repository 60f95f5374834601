package main

import (
	"strings"
	"testing"
)

const (
	helloBody = "Hello, World!"
	jsonBody  = `{"message":"Hello, World!"}`
)

func TestRoutesAnswer200WithServerDateAndLength(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	for _, tc := range []struct{ path, contentType, body string }{
		{"/", "text/plain", helloBody},
		{"/plaintext", "text/plain", helloBody},
		{"/json", "application/json", jsonBody},
		{"/plaintext?user=1", "text/plain", helloBody},
		{"http://test/json", "application/json", jsonBody},
	} {
		resp, body := cl.roundTrip("GET", get(tc.path))
		checkResponse(t, resp, body, 200, tc.body)
		if got := resp.Header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
	}
}

func TestHeadSendsTheHeadersOfGetWithoutTheBody(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	for _, tc := range []struct{ path, length string }{
		{"/plaintext", "13"},
		{"/json", "27"},
		{"/nowhere", "10"},
	} {
		resp, body := cl.roundTrip("HEAD", "HEAD "+tc.path+" HTTP/1.1\r\nHost: test\r\n\r\n")
		if body != "" {
			t.Errorf("HEAD %s: body %q, want none", tc.path, body)
		}
		if got := resp.Header.Get("Content-Length"); got != tc.length {
			t.Errorf("HEAD %s: Content-Length %q, want %s", tc.path, got, tc.length)
		}
	}
	// Had a body been sent after all, this response would be read out of it.
	resp, body := cl.roundTrip("GET", get("/plaintext"))
	checkResponse(t, resp, body, 200, helloBody)
}

func TestUnknownPathIs404AndKeepsTheConnOpen(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	resp, body := cl.roundTrip("GET", get("/nowhere"))
	checkResponse(t, resp, body, 404, "Not Found\n")
	resp, body = cl.roundTrip("GET", get("/json"))
	checkResponse(t, resp, body, 200, jsonBody)
}

func TestOtherMethodsAre405WithAllow(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	for _, raw := range []string{
		"POST /plaintext HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello",
		"DELETE /json HTTP/1.1\r\nHost: test\r\n\r\n",
		"OPTIONS / HTTP/1.1\r\nHost: test\r\n\r\n",
	} {
		resp, body := cl.roundTrip("POST", raw)
		checkResponse(t, resp, body, 405, "Method Not Allowed\n")
		if got := resp.Header.Get("Allow"); got != "GET, HEAD" {
			t.Errorf("%q: Allow %q, want \"GET, HEAD\"", raw, got)
		}
	}
}

func TestKeepAliveServesSequentialRequestsOnOneConn(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	for i := range 20 {
		resp, body := cl.roundTrip("GET", get("/plaintext"))
		checkResponse(t, resp, body, 200, helloBody)
		if resp.Close {
			t.Fatalf("request %d: the response announces a close", i)
		}
	}
}

func TestConnectionCloseClosesAfterTheResponse(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	resp, body := cl.roundTrip("GET", "GET /json HTTP/1.1\r\nHost: test\r\nConnection: Close\r\n\r\n")
	checkResponse(t, resp, body, 200, jsonBody)
	if !resp.Close { // ReadResponse turns "Connection: close" into Close
		t.Error("no Connection: close")
	}
	cl.expectEOF()
}

func TestHTTP10ClosesByDefault(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	resp, body := cl.roundTrip("GET", "GET /plaintext HTTP/1.0\r\n\r\n")
	checkResponse(t, resp, body, 200, helloBody)
	if !resp.Close { // ReadResponse turns "Connection: close" into Close
		t.Error("no Connection: close")
	}
	cl.expectEOF()
}

func TestHTTP10KeepAliveStaysOpen(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	for range 3 {
		resp, body := cl.roundTrip("GET", "GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		checkResponse(t, resp, body, 200, helloBody)
		if got := resp.Header.Get("Connection"); got != "keep-alive" {
			t.Errorf("Connection %q, want keep-alive", got)
		}
	}
	resp, body := cl.roundTrip("GET", "GET /json HTTP/1.0\r\n\r\n")
	checkResponse(t, resp, body, 200, jsonBody)
	cl.expectEOF()
}

// A pipeline of 16 requests in one write is answered in order: the paths differ,
// so a response out of place shows.
func TestPipelineOf16IsAnsweredInOrder(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	type step struct{ method, path, body string }
	var steps []step
	var batch strings.Builder
	for i := range 16 {
		s := [...]step{
			{"GET", "/plaintext", helloBody},
			{"GET", "/json", jsonBody},
			{"GET", "/nowhere", "Not Found\n"},
			{"HEAD", "/json", ""},
		}[i%4]
		steps = append(steps, s)
		batch.WriteString(s.method + " " + s.path + " HTTP/1.1\r\nHost: test\r\n\r\n")
	}
	cl.send(batch.String())
	for i, s := range steps {
		_, body := cl.read(s.method)
		if body != s.body {
			t.Fatalf("response %d (%s %s): body %q, want %q", i, s.method, s.path, body, s.body)
		}
	}
}

func TestRequestSplitByteByByteIsAnswered(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	raw := "GET /json HTTP/1.1\r\nHost: test\r\nUser-Agent: slow\r\n\r\n"
	for i := range len(raw) {
		cl.send(raw[i : i+1])
	}
	resp, body := cl.read("GET")
	checkResponse(t, resp, body, 200, jsonBody)
}

// A body split across writes is waited for and dropped, and the request after it
// is parsed where the body ends.
func TestBodySplitAcrossWritesIsWaitedFor(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	cl.send("POST /nowhere HTTP/1.1\r\nHost: test\r\nContent-Length: 26\r\n\r\nGET /json HTT")
	cl.send("P/1.1\r\n\r\nabcd")
	cl.send(get("/json"))
	resp, body := cl.read("POST")
	checkResponse(t, resp, body, 404, "Not Found\n")
	resp, body = cl.read("GET")
	checkResponse(t, resp, body, 200, jsonBody)
}

// A body of exactly the 1 MiB limit arrives in many reads, is held until it is
// all there, then dropped; the request after it is served.
func TestBodyAtTheLimitIsReadAndDropped(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	body := strings.Repeat("GET /json HTTP/1.1\r\n\r\n", maxBodyBytes/22+1)[:maxBodyBytes]
	cl.send("POST /nowhere HTTP/1.1\r\nHost: test\r\nContent-Length: 1048576\r\n\r\n" + body + get("/json"))
	resp, got := cl.read("POST")
	checkResponse(t, resp, got, 404, "Not Found\n")
	resp, got = cl.read("GET")
	checkResponse(t, resp, got, 200, jsonBody)
}

// With "Expect: 100-continue" the server says 100 Continue once the head is in,
// then answers when the body is.
func TestExpectContinueGetsAnInterimResponse(t *testing.T) {
	ts := startServer(t, 1)
	cl := dial(t, ts.addrs[0])
	cl.send("POST /json HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := cl.r.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim response: %q, %v; want HTTP/1.1 100 Continue", line, err)
	}
	if blank, err := cl.r.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q, %v; want a blank line", blank, err)
	}
	cl.send("ab")
	cl.send("cd")
	resp, body := cl.read("POST")
	checkResponse(t, resp, body, 405, "Method Not Allowed\n")
}
