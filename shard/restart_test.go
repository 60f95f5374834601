package shard

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRestartThatFailsLeavesTheEngineServing: a copy that exits before it
// serves, and one that never says it serves, are reported (the second killed at
// the ready timeout); the engine serves on, its listeners untouched.
func TestRestartThatFailsLeavesTheEngineServing(t *testing.T) {
	e, addr := startEcho(t, Options{Loops: 1, ShutdownTimeout: time.Second})
	for _, tc := range []struct {
		opts RestartOptions
		want string
	}{
		{RestartOptions{Path: "/bin/false", Args: []string{}}, "exited"},
		{RestartOptions{Path: "/bin/sleep", Args: []string{"30"}, ReadyTimeout: 300 * time.Millisecond}, "did not serve within"},
	} {
		start := time.Now()
		p, err := e.Restart(context.Background(), tc.opts)
		if err == nil || p != nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("Restart(%s): %v, %v; want an error saying %q", tc.opts.Path, p, err, tc.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Restart(%s) took %v", tc.opts.Path, d)
		}
		if _, ok := e.Draining(); ok {
			t.Fatal("a failed restart began the engine's shutdown")
		}
		c := dial(t, "tcp", addr)
		roundTrip(t, c, []byte("still here"))
	}
}
