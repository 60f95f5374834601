//go:build linux

package transport_test

import (
	"io"
	"testing"

	"github.com/sycamore-go/sycamore/transport"
)

// TestIdleTLSConnsHoldNoBuffersOfTheirOwn: after a handshake and an echoed
// request, an idle TLS conn holds no buffer of the conn's (Buffered, Queued
// zero) nor of its TLS layer (no incomplete record, no unwritten ciphertext, no
// handshake state): what it keeps is crypto/tls's own state. That is the part
// of a TLS conn's memory sycamore controls.
func TestIdleTLSConnsHoldNoBuffersOfTheirOwn(t *testing.T) {
	h := newRecordingHandler()
	h.data = echoAll
	l, addr := serveTLS(t, h, nil)
	const n = 20
	var conns []*transport.Conn
	for i := range n {
		c := dialTLS(t, addr, nil)
		msg := randomPattern(uint64(i), 1000+i*100)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		conns = append(conns, h.accept(t))
	}
	onLoop(t, l, func() {
		for i, c := range conns {
			held, handshaking := transport.TLSHeld(c)
			if held != 0 || handshaking || c.Buffered() != 0 || c.Queued() != 0 {
				t.Errorf("idle conn %d holds %d bytes in its TLS layer (handshake state kept: %v), %d buffered, %d queued",
					i, held, handshaking, c.Buffered(), c.Queued())
			}
			if _, ok := c.ConnectionState(); !ok {
				t.Errorf("conn %d: no ConnectionState", i)
			}
		}
	})
}
