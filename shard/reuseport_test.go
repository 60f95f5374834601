package shard

import (
	"net"
	"testing"
	"time"
)

// TestTwoEnginesOnOneReusePortAddressDrainOneServeOther: two engines (two
// processes, as far as SO_REUSEPORT is concerned) listen on one address, each
// with its own sockets; the kernel spreads connects over both. One shuts down
// gracefully: its conns are answered and closed, and from then on every connect
// reaches the other. (Connects the kernel had already queued on the closing
// engine's sockets are reset when those close: that is SO_REUSEPORT's, and why
// Restart hands the same sockets on instead; see the README.)
func TestTwoEnginesOnOneReusePortAddressDrainOneServeOther(t *testing.T) {
	a, addr := startEcho(t, Options{Loops: 2, ReusePort: true})
	b := newEngine(t, Options{Loops: 2, ReusePort: true})
	if _, err := b.Listen("tcp", addr, echo{}); err != nil {
		t.Fatalf("second engine on %s: %v", addr, err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	for range 32 {
		c := dial(t, "tcp", addr)
		roundTrip(t, c, []byte("before"))
		held = append(held, c)
	}
	if a.Stats().Total.Accepted == 0 || b.Stats().Total.Accepted == 0 {
		t.Fatalf("the kernel did not spread the connects: %d and %d", a.Stats().Total.Accepted, b.Stats().Total.Accepted)
	}
	if err := shutdownWithin(a, 10*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	before := b.Stats().Total.Accepted
	for i := range 200 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connect %d after the first engine drained: %v", i, err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		roundTrip(t, c, []byte("after"))
		c.Close()
	}
	if got := b.Stats().Total.Accepted - before; got != 200 {
		t.Fatalf("the serving engine accepted %d of 200 connects", got)
	}
	for _, c := range held { // the drained engine's conns were closed, the other's serve on
		c.Close()
	}
}
