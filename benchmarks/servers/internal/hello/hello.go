// Package hello is what every HTTP peer server answers: "Hello, World!" as
// text/plain (on /, /plaintext and every other path) and a small JSON object
// on /json.
//
// Mux is the net/http-style handler, for the servers that run one (net/http
// itself, nbio's nbhttp). The rest of the package is a minimal HTTP/1.1
// responder for the servers that own the bytes (netpoll, gnet): Scan finds the
// complete requests buffered on a connection, pipelined or not, and Responder
// holds the one 200 response they all get, with its Date header.
package hello

import (
	"net/http"
	"strconv"
)

// The bodies every server sends.
var (
	Body     = []byte("Hello, World!")
	JSONBody = []byte(`{"message":"Hello, World!"}`)
)

// Mux routes /, /plaintext and /json; every other path is answered like /.
// Every response names server in its Server header.
func Mux(server string) *http.ServeMux {
	mux := http.NewServeMux()
	plaintext := answer(server, "text/plain", Body)
	mux.Handle("/", plaintext)
	mux.Handle("/plaintext", plaintext)
	mux.Handle("/json", answer(server, "application/json", JSONBody))
	return mux
}

// answer is a handler that sends body, whatever the request.
func answer(server, contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Server"] = []string{server}
		h["Content-Type"] = []string{contentType}
		// net/http would count it for so small a body, nbhttp would send it
		// chunked instead: every peer sends the same response shape.
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.Write(body)
	}
}
