//go:build linux

package transport_test

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/transport"
)

// A slow reader's queue: the handler adds 1 KiB writes while the kernel takes
// 64 KiB a flush, so the queue holds its size, a little under its buffer's
// capacity (a power of two). What a byte costs must not grow with the queue: it
// did when a full buffer slid the whole queue forward to make room for a write.
func BenchmarkWriteQueueSlowReader(b *testing.B) {
	for _, queue := range []int{64 << 10, 16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("queue=%dKiB", queue>>10), func(b *testing.B) {
			benchSlowReaderQueue(b, queue, transport.Config{HighWater: -1})
		})
	}
	// A reader that keeps up just under its conn's output limit (Redis's 32 MiB
	// for pubsub clients): the buffer stops growing at one and a half times
	// the limit, and a byte must still cost what it costs without one.
	b.Run("queue=28MiB,MaxQueued=32MiB", func(b *testing.B) {
		benchSlowReaderQueue(b, 28<<20, transport.Config{HighWater: -1, MaxQueued: 32 << 20})
	})
}

func benchSlowReaderQueue(b *testing.B, queue int, cfg transport.Config) {
	const chunk, step = 1 << 10, 64 << 10
	watched, take := newWatchedFd(), 0
	interceptIO(b, &sys.Write, watched, func(_ ioFunc, _ int, p []byte) (int, error) {
		if take == 0 {
			return 0, unix.EAGAIN
		}
		return min(take, len(p)), nil
	})
	l := startLoop(b, logLoopErrors(b))
	c, _ := adoptedSocketpair(b, l, transport.BaseHandler{}, cfg)
	watched.Store(int64(c.Fd()))
	msg := make([]byte, chunk)
	onLoop(b, l, func() {
		for c.Queued() < queue-2*step {
			c.Write(msg)
		}
	})
	b.SetBytes(step)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		onLoop(b, l, func() {
			for i := 0; i < 16 && done < b.N; i, done = i+1, done+1 {
				for range step / chunk {
					c.Write(msg)
				}
				take = step // only this flush gets bytes through
				c.Flush()
				take = 0
			}
		})
	}
	onLoop(b, l, func() {
		if q := c.Queued(); q < queue-3*step {
			b.Fatalf("the queue drained to %d bytes; the benchmark wants it near %d", q, queue)
		}
	})
	b.StopTimer()
	onLoop(b, l, func() { c.Abort() })
}
