package loop

import (
	"context"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/poller"
)

// bytesIO reads the byte counters from Stats.
func bytesIO(l *Loop) (in, out uint64) {
	st := l.Stats()
	return st.BytesIn, st.BytesOut
}

func TestCountIOAppearsInStatsOnlyAfterRoundEnds(t *testing.T) {
	l := newTestLoop(t, nil)

	// Before the loop runs: counted, but not published until a round ends.
	l.CountIO(10, 20)
	if in, out := bytesIO(l); in != 0 || out != 0 {
		t.Fatalf("Stats before any round: BytesIn %d, BytesOut %d; want 0, 0", in, out)
	}
	dispatchRounds(t, l, 1)
	if in, out := bytesIO(l); in != 10 || out != 20 {
		t.Fatalf("Stats after the round: BytesIn %d, BytesOut %d; want 10, 20", in, out)
	}

	// Inside a round (a handler), the counts are not visible yet; after it, they are.
	rt, peer := registerPair(t, l, poller.Readable)
	var inRound [2]uint64
	rt.handle = func(poller.Event) {
		drain(rt.fd)
		if len(rt.events) > 1 {
			return // count once, whatever else the poller reports
		}
		l.CountIO(5, 0)
		l.CountIO(0, 7)
		inRound[0], inRound[1] = bytesIO(l)
	}
	mustWrite(t, peer, "x")
	dispatchUntil(t, l, func() bool { return len(rt.events) > 0 }, "a Readable event")
	if inRound != [2]uint64{10, 20} {
		t.Fatalf("Stats inside the handler: %v, want [10 20] (the round's counts not yet published)", inRound)
	}
	if in, out := bytesIO(l); in != 15 || out != 27 {
		t.Fatalf("Stats after the handler's round: BytesIn %d, BytesOut %d; want 15, 27", in, out)
	}
}

func TestCountIOAccumulatesAcrossRounds(t *testing.T) {
	l := newTestLoop(t, nil)
	var wantIn, wantOut uint64
	for round := range 50 {
		// Some rounds count nothing, or count zero bytes: totals must not move.
		for k := range round % 4 {
			in, out := round*3+k, round*1000+k
			l.CountIO(in, out)
			wantIn += uint64(in)
			wantOut += uint64(out)
		}
		l.CountIO(0, 0)
		dispatchRounds(t, l, 1)
		if in, out := bytesIO(l); in != wantIn || out != wantOut {
			t.Fatalf("after round %d: BytesIn %d, BytesOut %d; want %d, %d", round, in, out, wantIn, wantOut)
		}
	}
	dispatchRounds(t, l, 3)
	if in, out := bytesIO(l); in != wantIn || out != wantOut {
		t.Fatalf("after idle rounds: BytesIn %d, BytesOut %d; want %d, %d (unchanged)", in, out, wantIn, wantOut)
	}
}

// Stats is safe from any goroutine: read it while the loop counts (the race
// detector checks the publication), and the totals end up exact.
func TestCountIOOnRunningLoopIsReadableFromOtherGoroutine(t *testing.T) {
	l := newTestLoop(t, nil)
	startRun(t, l, context.Background())
	const tasks, in, out = 200, 3, 11
	for range tasks {
		if err := l.Submit(func() { l.CountIO(in, out) }); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		bytesIO(l)
	}
	testutil.Eventually(t, waitFor, func() bool {
		gotIn, gotOut := bytesIO(l)
		return gotIn == tasks*in && gotOut == tasks*out
	}, "Stats to show BytesIn %d, BytesOut %d", tasks*in, tasks*out)
	submitAndWait(t, l, func() {})
	if gotIn, gotOut := bytesIO(l); gotIn != tasks*in || gotOut != tasks*out {
		t.Fatalf("after one more round: BytesIn %d, BytesOut %d; want %d, %d", gotIn, gotOut, tasks*in, tasks*out)
	}
}
