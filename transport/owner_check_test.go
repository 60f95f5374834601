//go:build linux && sycamore_checkowner

// Built only with the sycamore_checkowner tag (make test runs the suite once with
// it): the loop-only methods then check the goroutine that calls them.

package transport_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// Conn.Write from a goroutine other than the conn's loop would tear frames and
// corrupt the write queue. With the tag it panics at once, naming the method and
// what to use instead.
func TestWriteFromAnotherGoroutinePanicsUnderCheckOwner(t *testing.T) {
	l := startLoop(t, nil)
	h := newRecordingHandler()
	ln := serve(t, l, "tcp", "127.0.0.1:0", h, transport.Config{})
	dial(t, ln.Addr().String(), 0)
	c := h.accept(t)
	recovered := make(chan string, 1)
	go func() {
		defer func() { recovered <- fmt.Sprint(recover()) }()
		c.Write([]byte("torn"))
	}()
	msg := testutil.Recv(t, recovered, waitFor, "the foreign Write to return or panic")
	for _, want := range []string{"transport.Conn.Write", "loop goroutine only", "Async"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("Write off the loop goroutine: recovered %q, want a panic that says %q", msg, want)
		}
	}
	// On the loop goroutine the same call is fine.
	var err error
	onLoop(t, l, func() { _, err = c.Write([]byte("ok")) })
	if err != nil {
		t.Fatalf("Write on the loop goroutine: %v", err)
	}
}
