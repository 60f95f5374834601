// Command nethttp is the net/http peer server for the load benchmarks: it
// answers / and /plaintext with "Hello, World!" and /json with a small JSON
// object, with the standard library's defaults otherwise (HTTP/1.1 keep-alive,
// one goroutine per connection).
//
// Usage:
//
//	nethttp -addr 127.0.0.1:8080
package main

import (
	"net/http"

	"github.com/sycamore-go/sycamore/benchmarks/servers/internal/peer"
)

var (
	helloBody = []byte("Hello, World!")
	jsonBody  = []byte(`{"message":"Hello, World!"}`)
)

func main() {
	addr := peer.Addr("nethttp")
	srv := &http.Server{Addr: addr, Handler: newMux()}
	peer.Serve("nethttp", srv.ListenAndServe, srv.Shutdown)
}

// newMux routes /, /plaintext and /json; every other path is answered like /.
func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	plaintext := func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Server"] = []string{"nethttp"}
		h["Content-Type"] = []string{"text/plain"}
		w.Write(helloBody)
	}
	mux.HandleFunc("/", plaintext)
	mux.HandleFunc("/plaintext", plaintext)
	mux.HandleFunc("/json", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Server"] = []string{"nethttp"}
		h["Content-Type"] = []string{"application/json"}
		w.Write(jsonBody)
	})
	return mux
}
