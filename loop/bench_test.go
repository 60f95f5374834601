package loop

import (
	"context"
	"testing"
	"time"

	"go.uber.org/atomic"
)

// countdown returns a task and a channel that is closed when the task has run n
// times.
func countdown(n int) (task func(), done <-chan struct{}) {
	var ran atomic.Int64
	all := make(chan struct{})
	return func() {
		if ran.Inc() == int64(n) {
			close(all)
		}
	}, all
}

// BenchmarkSubmit measures Submit from one goroutine to a running loop, up to the
// moment the loop has run every task.
func BenchmarkSubmit(b *testing.B) {
	l := newTestLoop(b, nil)
	startRun(b, l, context.Background())
	submitAndWait(b, l, func() {})
	task, done := countdown(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := l.Submit(task); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.StopTimer()
	st := l.Stats()
	b.ReportMetric(float64(st.WakeWrites)/float64(b.N), "wakes/op")
}

// BenchmarkSubmitParallel measures Submit from GOMAXPROCS goroutines at once.
func BenchmarkSubmitParallel(b *testing.B) {
	l := newTestLoop(b, nil)
	startRun(b, l, context.Background())
	submitAndWait(b, l, func() {})
	task, done := countdown(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Submit(task); err != nil {
				b.Error(err)
				return
			}
		}
	})
	<-done
	b.StopTimer()
	st := l.Stats()
	b.ReportMetric(float64(st.WakeWrites)/float64(b.N), "wakes/op")
}

// BenchmarkTimerReset moves one timer around among 1,000 others.
func BenchmarkTimerReset(b *testing.B) {
	l := newTestLoop(b, nil)
	for i := range 1000 {
		l.AfterFunc(time.Hour+time.Duration(i)*time.Millisecond, func() {})
	}
	tm := l.AfterFunc(time.Hour, func() {})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tm.Reset(time.Hour + time.Duration(i%1000)*time.Millisecond)
	}
}

// BenchmarkAfterFuncFire schedules a zero-delay timer and fires it with one round.
func BenchmarkAfterFuncFire(b *testing.B) {
	l := newTestLoop(b, nil)
	fired := 0
	f := func() { fired++ }
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l.AfterFunc(0, f)
		if err := l.DispatchOnce(0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if fired != b.N {
		b.Fatalf("%d of %d timers fired", fired, b.N)
	}
}

// BenchmarkDispatchOnceIdle is the cost of a round with nothing to do: one
// epoll_wait that returns at once.
func BenchmarkDispatchOnceIdle(b *testing.B) {
	l := newTestLoop(b, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := l.DispatchOnce(0); err != nil {
			b.Fatal(err)
		}
	}
}
