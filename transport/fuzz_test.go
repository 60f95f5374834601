//go:build linux

// Linux only: the conn under test sits on a socketpair made with SOCK_NONBLOCK and
// SOCK_CLOEXEC, and the shared loop is driven by hand through epoll.

package transport_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sycamore-go/sycamore/internal/owner"
	"github.com/sycamore-go/sycamore/internal/sys"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
	"github.com/sycamore-go/sycamore/transport"
)

// FuzzConnBuffers plays a script against one Conn and checks its input and output
// buffers against a model. The bytes never touch a socket: sys.Read, sys.Write and
// sys.Shutdown are faked for the conn's fd, so the script decides what each read(2)
// returns (a few bytes, everything, EAGAIN, EINTR, EOF, an error) and how much each
// write(2) takes (everything, a few bytes, EAGAIN, EINTR, an error). The socketpair
// only gives the conn a real fd to register.
//
// The loop is never Run: the fuzz goroutine is its loop goroutine. It calls the
// conn's HandleEvent itself for scripted events, and DispatchOnce(0) for rounds,
// which run submitted tasks, round-end calls and the Writable events epoll reports
// for the socketpair (it never reports Readable: nothing writes to the peer).
//
// Script: a header byte, then steps. Header bits 0-1 pick the water marks
// (default, never pause, 512, 4096), bit 2 gives the handler an OnEOF, bits 3-4
// and 5-6 the bytes each write(2) takes and each read(2) returns until a step
// changes them (no limit, 1, 5, 100), so that short reads and writes need no step
// of their own to be found. A step is a kind byte and an argument byte (see
// fzStepKind); the event and task steps are followed by a count byte and that many
// ops of two bytes, a kind and an argument (see fzOpKind). Missing bytes read as
// zero. The seeds in testdata/fuzz/FuzzConnBuffers are named after the case each
// one covers.
//
// Checked after every op and step:
//   - Peek, Next, Discard and Recv return exactly the model's next bytes, with
//     io.ErrShortBuffer exactly when n is more than the model holds, and Buffered
//     is the model's length;
//   - slices from Peek and Next have no spare capacity, still hold their bytes when
//     the handler returns, and appending to them corrupts nothing;
//   - what write(2) took, followed by the Queued bytes, is everything written (and
//     at the end, with the kernel taking everything, what write(2) took is all of
//     it);
//   - reads happen only on an open, unpaused conn before EOF, and every read that
//     returned bytes is offered to OnData;
//   - State, the errors of Write, Send, Flush, Close, CloseWrite and Recv, OnClose
//     (once, with nil only after a graceful close that wrote everything) and the
//     AsyncWrite callbacks (once each, nil only when their bytes are written) agree
//     with the model; nothing panics.
func FuzzConnBuffers(f *testing.F) {
	if owner.Checks {
		// One loop serves every input, each played on a goroutine of its own:
		// fine for a loop driven by hand one input at a time, but not what
		// the owner checks allow.
		f.Skip("the owner checks allow a loop one goroutine; the fuzzer plays each input on its own")
	}
	l := fzSetup(f)
	f.Fuzz(func(t *testing.T, script []byte) {
		r := fzNewRun(t, l, script)
		r.play()
	})
}

const (
	// fzReadBufferSize is the shared loop's read buffer: small, so that a chunk of
	// a few KiB is many buffers long and the conn's own buffer has to grow.
	fzReadBufferSize = 1024
	// fzMaxSteps and fzMaxOps bound the work of one input.
	fzMaxSteps = 64
	fzMaxOps   = 16
	// fzMaxBytes caps the bytes that arrive and the bytes written in one input, so
	// that the byte-by-byte comparisons stay cheap.
	fzMaxBytes = 32 << 10
	// fzMaxHeld is how many Peek and Next slices per handler call are kept to see
	// that they still hold their bytes when it returns.
	fzMaxHeld = 8
)

// fzJunk is what the append op adds to a slice from Peek.
var fzJunk = [16]byte{0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5}

// fzCurrent is the run in progress; the fakes serve only its fd.
var fzCurrent atomic.Pointer[fzRun]

// fzSetup installs the fakes and creates the shared loop, undone when the fuzz
// target returns: after every input, so that the goroutine and fd checks of
// TestMain find nothing left.
func fzSetup(f *testing.F) *loop.Loop {
	realRead, realWrite, realShutdown := sys.Read, sys.Write, sys.Shutdown
	f.Cleanup(sys.Swap(&sys.Read, func(fd int, p []byte) (int, error) {
		if r := fzCurrent.Load(); r != nil && fd == r.fd {
			return r.read(p)
		}
		return realRead(fd, p)
	}))
	f.Cleanup(sys.Swap(&sys.Write, func(fd int, p []byte) (int, error) {
		if r := fzCurrent.Load(); r != nil && fd == r.fd {
			return r.write(p)
		}
		return realWrite(fd, p)
	}))
	f.Cleanup(sys.Swap(&sys.Shutdown, func(fd, how int) error {
		if r := fzCurrent.Load(); r != nil && fd == r.fd {
			r.shutdown()
		}
		return realShutdown(fd, how)
	}))
	l, err := loop.New(loop.Config{
		CPU:            loop.NoPin,
		ReadBufferSize: fzReadBufferSize,
		OnError: func(tg loop.Target, err error) {
			if r := fzCurrent.Load(); r != nil {
				r.fail("loop OnError(%T): %v", tg, err)
				return
			}
			panic(fmt.Sprintf("loop OnError(%T) between inputs: %v", tg, err))
		},
	})
	if err != nil {
		f.Fatalf("loop.New: %v", err)
	}
	f.Cleanup(func() {
		if err := l.Close(); err != nil {
			f.Errorf("loop Close: %v", err)
		}
	})
	return l
}

// fzStepKind is what a step does.
type fzStepKind uint8

const (
	fzArrive    fzStepKind = iota // fzChunkLen(arg) more bytes wait in the kernel
	fzEvent                       // HandleEvent(fzReady(arg)); OnData runs the step's ops
	fzWritable                    // HandleEvent(Writable)
	fzWriteCap                    // each write(2) takes: 0: EAGAIN; 1-127: that many bytes; 128-255: all
	fzReadCap                     // each read(2) returns at most: 0: no limit; 1-127: arg; more: (arg-127)*16
	fzInterrupt                   // the next read (arg bit 0) and write (bit 1) fail with EINTR once
	fzTask                        // run the step's ops outside any handler, then a round
	fzRound                       // DispatchOnce(0)
	fzPeerShut                    // the peer shut its side: EOF once the arrived bytes are read
	fzFault                       // the next read (arg even) fails with ECONNRESET, or write with EPIPE
	fzStepKinds
)

var fzStepNames = [...]string{"arrive", "event", "writable", "writecap", "readcap", "eintr", "task", "round", "peershut", "fault"}

// fzOpKind is one call a handler or a task makes on the conn.
type fzOpKind uint8

const (
	fzPeek       fzOpKind = iota // Peek(fzN(arg))
	fzNext                       // Next(fzN(arg))
	fzDiscard                    // Discard(fzN(arg))
	fzAll                        // Peek, Next or Discard (arg%3) of -1
	fzWrite                      // Write of fzWriteLen(arg) bytes
	fzWritev                     // Writev of three pieces, one empty
	fzEcho                       // Next(fzN(arg)), then Write of what it returned
	fzAppend                     // Peek(fzN(arg)), then append to the slice
	fzFlush                      // Flush
	fzClose                      // Close
	fzRecv                       // Recv into fzWriteLen(arg) bytes
	fzSend                       // Send of fzWriteLen(arg) bytes
	fzPause                      // PauseRead (arg even) or ResumeRead
	fzAsyncWrite                 // AsyncWrite of fzWriteLen(arg) bytes
	fzAbort                      // Abort
	fzCloseWrite                 // CloseWrite
	fzAsyncClose                 // AsyncClose
	fzOpKinds
)

var fzOpNames = [...]string{"peek", "next", "discard", "all", "write", "writev", "echo", "append",
	"flush", "close", "recv", "send", "pause", "asyncwrite", "abort", "closewrite", "asyncclose"}

type fzStep struct {
	kind fzStepKind
	arg  byte
	ops  []fzOp
}

type fzOp struct {
	kind fzOpKind
	arg  byte
}

// fzChunkLen maps a byte to a chunk size: 0-127 as is (tiny chunks), then steps of
// 64 up to 8 KiB, eight read buffers.
func fzChunkLen(b byte) int {
	if b < 128 {
		return int(b)
	}
	return int(b-127) * 64
}

// fzWriteLen maps a byte to a write size: 0-127 as is, then steps of 32 up to 4 KiB.
func fzWriteLen(b byte) int {
	if b < 128 {
		return int(b)
	}
	return int(b-127) * 32
}

// fzN maps a byte to the n of Peek, Next or Discard, relative to what is buffered:
// small; at or below it; above it; or large.
func fzN(b byte, buffered int) int {
	switch b >> 6 {
	case 0:
		return int(b & 63)
	case 1:
		return max(buffered-int(b&63), 0)
	case 2:
		return buffered + 1 + int(b&63)
	}
	return int(b&63) * 128
}

// fzReady maps a byte to an event's Ready bits; none means Readable.
func fzReady(b byte) poller.Ready {
	if ready := poller.Ready(b & 0x3f); ready != 0 {
		return ready
	}
	return poller.Readable
}

// fzInByte and fzOutByte are the bytes at offset i of the input stream and of the
// written payloads: a position-dependent pattern, so that a byte lost, repeated or
// moved shows.
func fzInByte(i int) byte {
	x := uint32(i) * 0x9e3779b1
	return byte(x>>24) ^ byte(i>>8)
}

func fzOutByte(i int) byte {
	x := uint32(i)*0x85ebca6b + 0x5bd1e995
	return byte(x>>23) ^ byte(i>>7)
}

// fzDecode turns a fuzz input into its config and steps.
func fzDecode(script []byte) (cfg transport.Config, eofHandler bool, writeCap, readCap int, steps []fzStep) {
	i := 0
	next := func() byte {
		i++
		if i <= len(script) {
			return script[i-1]
		}
		return 0
	}
	header := next()
	switch header & 3 {
	case 1:
		cfg.HighWater = -1
	case 2:
		cfg.HighWater = 512
	case 3:
		cfg.HighWater = 4096
	}
	eofHandler = header&4 != 0
	caps := [4]int{0, 1, 5, 100}
	writeCap, readCap = caps[header>>3&3], caps[header>>5&3]
	if writeCap == 0 {
		writeCap = -1 // no limit
	}
	for i < len(script) && len(steps) < fzMaxSteps {
		s := fzStep{kind: fzStepKind(next() % byte(fzStepKinds)), arg: next()}
		if s.kind == fzEvent || s.kind == fzTask {
			n := int(next() % (fzMaxOps + 1))
			for k := 0; k < n && i < len(script); k++ {
				s.ops = append(s.ops, fzOp{kind: fzOpKind(next() % byte(fzOpKinds)), arg: next()})
			}
		}
		steps = append(steps, s)
	}
	return cfg, eofHandler, writeCap, readCap, steps
}

// fzDescribe writes a script out for a failure report.
func fzDescribe(script []byte) string {
	cfg, eofHandler, writeCap, readCap, steps := fzDecode(script)
	var b strings.Builder
	fmt.Fprintf(&b, "HighWater=%d OnEOF=%v writecap=%d readcap=%d;", cfg.HighWater, eofHandler, writeCap, readCap)
	for _, s := range steps {
		fmt.Fprintf(&b, " %s(%d)", fzStepNames[s.kind], s.arg)
		if s.kind == fzEvent || s.kind == fzTask {
			b.WriteString("[")
			for k, op := range s.ops {
				if k > 0 {
					b.WriteString(" ")
				}
				fmt.Fprintf(&b, "%s(%d)", fzOpNames[op.kind], op.arg)
			}
			b.WriteString("]")
		}
	}
	return b.String()
}
