package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
)

// net/http's client talks to the server: statuses, bodies, HEAD, a request body,
// and keep-alive (every request after the first reuses the one conn).
func TestNetHTTPClientInteroperates(t *testing.T) {
	ts := startServer(t, 1)
	httpTransport := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	t.Cleanup(httpTransport.CloseIdleConnections)
	client := &http.Client{Transport: httpTransport, Timeout: waitLimit}
	base := "http://" + ts.addrs[0]

	reused := 0
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if info.Reused {
			reused++
		}
	}}
	ctx := httptrace.WithClientTrace(context.Background(), trace)

	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/plaintext", "", 200, helloBody},
		{"GET", "/json", "", 200, jsonBody},
		{"HEAD", "/json", "", 200, ""},
		{"GET", "/nowhere", "", 404, "Not Found\n"},
		{"POST", "/json", `{"a":1}`, 405, "Method Not Allowed\n"},
		{"GET", "/", "", 200, helloBody},
	}
	for _, tc := range cases {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body) // a known length: sent with Content-Length
		}
		req, err := http.NewRequestWithContext(ctx, tc.method, base+tc.path, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: reading the body: %v", tc.method, tc.path, err)
		}
		checkResponse(t, resp, string(got), tc.status, tc.want)
	}
	if reused != len(cases)-1 {
		t.Errorf("%d of %d requests reused the conn, want %d", reused, len(cases), len(cases)-1)
	}
}
