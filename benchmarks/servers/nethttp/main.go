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
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var (
	helloBody = []byte("Hello, World!")
	jsonBody  = []byte(`{"message":"Hello, World!"}`)
)

func main() {
	addr := flag.String("addr", "", "listen address, host:port (required)")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "nethttp: -addr is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	srv := &http.Server{Addr: *addr, Handler: newMux()}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		log.Fatalf("nethttp: %v", err)
	case <-ctx.Done():
	}
	// Give in-flight requests a moment; the benchmark has stopped sending by now.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Printf("nethttp: shutdown: %v", err)
	}
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
