// Command fasthttp is the fasthttp peer server for the load benchmarks: it
// answers / and /plaintext with "Hello, World!" and /json with a small JSON
// object, using fasthttp.Server's defaults otherwise (worker-pool of
// goroutines, HTTP/1.1 keep-alive).
//
// Usage:
//
//	fasthttp -addr 127.0.0.1:8080
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

var (
	helloBody = []byte("Hello, World!")
	jsonBody  = []byte(`{"message":"Hello, World!"}`)
)

func main() {
	addr := flag.String("addr", "", "listen address, host:port (required)")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "fasthttp: -addr is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	srv := &fasthttp.Server{Handler: handle, Name: "fasthttp"}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(*addr) }()
	select {
	case err := <-errc:
		log.Fatalf("fasthttp: %v", err)
	case <-ctx.Done():
	}
	// Give in-flight requests a moment; the benchmark has stopped sending by now.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.ShutdownWithContext(shutdownCtx); err != nil {
		log.Printf("fasthttp: shutdown: %v", err)
	}
}

// handle routes /json to the JSON body and every other path to the plaintext one.
func handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == "/json" {
		ctx.SetContentType("application/json")
		ctx.SetBody(jsonBody)
		return
	}
	ctx.SetContentType("text/plain")
	ctx.SetBody(helloBody)
}
