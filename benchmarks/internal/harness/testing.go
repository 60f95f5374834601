package harness

import (
	"context"
	"time"
)

// TB is the part of testing.TB that StartTest uses; the harness does not
// import package testing.
type TB interface {
	Helper()
	Fatal(args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
}

// StartTest starts s for a test (giving it 15 s to listen) and stops it when
// the test ends, failing the test unless the stop is clean: the server exits
// on SIGTERM.
func StartTest(t TB, s Server) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("Stop: %v\nlog:\n%s", err, p.Log())
		}
	})
	return p
}
