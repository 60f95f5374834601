//go:build linux

// Linux only: the conn under test sits on a socketpair made with SOCK_NONBLOCK and
// SOCK_CLOEXEC, and the shared loop is driven by hand through epoll.

package transport_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

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

// fzState is the model's view of the conn's life.
type fzState uint8

const (
	fzOpen    fzState = iota
	fzClosing         // a graceful close was asked for: it ends once the queue is written
	fzDead            // closed by an error or Abort: queued bytes are dropped
)

// fzAsync is one AsyncWrite: where its bytes end in the written stream, or the
// error its callback must get because the conn refused it.
type fzAsync struct {
	ran     bool // the model saw its task run
	end     int
	wantErr error
	calls   int
}

type fzHeld struct{ got, want []byte }

type fzResult struct {
	n   int
	err error
}

// fzRun is one input: the script, the fake kernel, and the model. Everything in it
// is touched only on the fuzz goroutine, which is the loop goroutine.
type fzRun struct {
	t          *testing.T
	l          *loop.Loop
	c          *transport.Conn
	script     []byte
	cfg        transport.Config
	eofHandler bool
	steps      []fzStep
	fd, peer   int
	failures   int

	// The fake kernel.
	arrived, delivered  int // input stream offsets: bytes sent by the peer, bytes read
	peerShut            bool
	readCap             int // bytes per read(2); 0: no limit
	writeCap            int // bytes per write(2); < 0: no limit; 0: EAGAIN
	intrRead, intrWrite bool
	readErr, writeErr   error
	inRecv              bool
	reads               int
	lastRead            fzResult
	shutDown            bool

	// The model.
	in                 bytes.Buffer // read by the conn, not yet consumed
	out                []byte       // accepted for writing, in order
	wire               []byte       // taken by write(2)
	wireChecked        int          // wire[:wireChecked] is known to match out
	state              fzState
	writeShut, readEOF bool
	paused, closed     bool
	ops                []fzOp // what the next OnData runs
	onData             int
	held               []fzHeld
	async              []*fzAsync
	scratch            []byte
}

func fzNewRun(t *testing.T, l *loop.Loop, script []byte) *fzRun {
	r := &fzRun{t: t, l: l, script: script, fd: -1, peer: -1}
	r.cfg, r.eofHandler, r.writeCap, r.readCap, r.steps = fzDecode(script)
	return r
}

// fail reports a broken invariant, with the script the first time.
func (r *fzRun) fail(format string, args ...any) {
	r.failures++
	switch {
	case r.failures == 1:
		r.t.Errorf("%s\nscript %q:\n%s", fmt.Sprintf(format, args...), r.script, fzDescribe(r.script))
	case r.failures <= 5:
		r.t.Errorf(format, args...)
	}
}

// play opens the conn, runs the steps, drains and closes. The steps stop at the
// first failure; the conn is closed and the fds freed in any case.
func (r *fzRun) play() {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		r.t.Fatalf("socketpair: %v", err)
	}
	r.fd, r.peer = pair[0], pair[1]
	fzCurrent.Store(r)
	defer func() {
		r.teardown()
		fzCurrent.Store(nil)
		unix.Close(r.peer)
	}()
	var h transport.Handler = &fzHandler{r: r}
	if r.eofHandler {
		h = fzEOFHandler{&fzHandler{r: r}}
	}
	r.c, err = transport.Adopt(r.l, r.fd, h, r.cfg)
	if err != nil {
		unix.Close(r.fd)
		r.closed = true
		r.t.Fatalf("Adopt: %v", err)
	}
	for _, s := range r.steps {
		if r.failures > 0 || !r.guard(func() { r.step(s) }) {
			return
		}
		r.checkAfterStep()
	}
	if r.failures == 0 {
		r.guard(r.drain)
	}
}

// guard runs f, turning a panic into a failure.
func (r *fzRun) guard(f func()) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			r.fail("panic: %v\n%s", v, debug.Stack())
			ok = false
		}
	}()
	f()
	return true
}

func (r *fzRun) step(s fzStep) {
	switch s.kind {
	case fzArrive:
		r.arrived += min(fzChunkLen(s.arg), fzMaxBytes-r.arrived)
	case fzEvent:
		r.event(fzReady(s.arg), s.ops)
	case fzWritable:
		r.event(poller.Writable, nil)
	case fzWriteCap:
		switch {
		case s.arg == 0:
			r.writeCap = 0
		case s.arg < 128:
			r.writeCap = int(s.arg)
		default:
			r.writeCap = -1
		}
	case fzReadCap:
		r.readCap = int(s.arg)
		if s.arg >= 128 {
			r.readCap = int(s.arg-127) * 16
		}
	case fzInterrupt:
		r.intrRead, r.intrWrite = s.arg&1 != 0, s.arg&2 != 0
	case fzTask:
		for _, op := range s.ops {
			if r.failures > 0 {
				break
			}
			r.do(op)
		}
		r.checkHeld("the task's ops")
		r.round()
	case fzRound:
		r.round()
	case fzPeerShut:
		r.peerShut = true
	case fzFault:
		if s.arg%2 == 0 {
			r.readErr = unix.ECONNRESET
		} else {
			r.writeErr = unix.EPIPE
		}
	}
}

// event delivers ev to the conn as the loop would; OnData runs ops.
func (r *fzRun) event(ready poller.Ready, ops []fzOp) {
	onData, delivered := r.onData, r.delivered
	r.ops = ops
	r.c.HandleEvent(poller.Event{Fd: r.fd, Ready: ready})
	r.ops = nil
	if r.delivered > delivered && r.onData == onData {
		r.fail("event %v read %d bytes but OnData did not run", ready, r.delivered-delivered)
	}
}

func (r *fzRun) round() {
	if err := r.l.DispatchOnce(0); err != nil {
		r.fail("DispatchOnce: %v", err)
	}
}

// drain lets the kernel take everything and checks that everything arrives.
func (r *fzRun) drain() {
	r.readErr, r.writeErr, r.intrRead, r.intrWrite, r.writeCap = nil, nil, false, false, -1
	// Rounds run the AsyncWrite tasks still queued and the round-end flushes; a
	// Writable event clears a blocked queue.
	for i := 0; i < 4 && r.failures == 0; i++ {
		r.round()
		if !r.closed && r.c.Queued() > 0 {
			r.event(poller.Writable, nil)
		}
	}
	r.round()
	r.checkAfterStep()
	if !r.closed && r.c.Queued() != 0 {
		r.fail("%d bytes still queued although the kernel takes everything", r.c.Queued())
	}
	if r.state != fzDead && !bytes.Equal(r.wire, r.out) {
		r.fail("the kernel got %d bytes, want all %d written (first difference at %d)",
			len(r.wire), len(r.out), fzDiff(r.wire, r.out))
	}
	if r.state == fzOpen {
		r.state = fzClosing
		if err := r.c.Close(); err != nil {
			r.fail("Close at the end: %v", err)
		}
	}
	if !r.closed {
		r.fail("the conn did not close: state %v, %d queued", r.c.State(), r.c.Queued())
	}
	for i, a := range r.async {
		if !a.ran || a.calls != 1 {
			r.fail("AsyncWrite %d: task ran %v, callback ran %d times, want once", i, a.ran, a.calls)
		}
	}
}

// teardown closes the conn whatever state it is in and lets the loop forget it,
// so that no task or round-end call of this input runs during the next one.
func (r *fzRun) teardown() {
	r.readErr, r.writeErr, r.intrRead, r.intrWrite, r.writeCap = nil, nil, false, false, -1
	if r.c != nil && !r.closed {
		r.state = fzDead
		r.guard(func() { r.c.Abort() })
	}
	r.guard(r.round)
	r.guard(r.round)
}

// checkAfterStep checks what must hold between steps.
func (r *fzRun) checkAfterStep() {
	r.checkWire()
	r.checkContent("after the step")
	want := transport.Open
	switch {
	case r.closed:
		want = transport.Closed
	case r.state == fzClosing:
		want = transport.Closing
	case r.state == fzDead:
		r.fail("the conn failed but OnClose did not run")
		return
	}
	if got := r.c.State(); got != want {
		r.fail("State() = %v, want %v", got, want)
	}
}

// checkWire checks that the kernel got a prefix of what was written, and that it
// and the queue together are all of it.
func (r *fzRun) checkWire() {
	if len(r.wire) > len(r.out) || !bytes.Equal(r.wire[r.wireChecked:], r.out[r.wireChecked:len(r.wire)]) {
		r.fail("the kernel got %d bytes that are not the %d written (first difference at %d)",
			len(r.wire), len(r.out), fzDiff(r.wire, r.out))
		return
	}
	r.wireChecked = len(r.wire)
	if r.closed || r.state == fzDead {
		return
	}
	if q := r.c.Queued(); len(r.wire)+q != len(r.out) {
		r.fail("%d bytes written to the kernel + Queued() %d != %d bytes written", len(r.wire), q, len(r.out))
	}
}

func fzDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// checkBuffered checks that Buffered is the model's length. A closing conn may
// drop its unread bytes: then the model drops them too.
func (r *fzRun) checkBuffered() bool {
	got := r.c.Buffered()
	if got == r.in.Len() {
		return true
	}
	if got == 0 && (r.state != fzOpen || r.closed) {
		r.in.Reset()
		return true
	}
	r.fail("Buffered() = %d, want %d", got, r.in.Len())
	return false
}

// checkContent checks every unread byte against the model, so that a corrupted
// buffer shows at once and not only when an op happens to look at it.
func (r *fzRun) checkContent(where string) {
	if !r.checkBuffered() {
		return
	}
	if got, _ := r.c.Peek(-1); !bytes.Equal(got, r.in.Bytes()) {
		r.fail("%s: the %d unread bytes differ from those read (first difference at %d)",
			where, len(got), fzDiff(got, r.in.Bytes()))
	}
}

// hold keeps a slice the conn returned, to check when the handler returns that it
// still holds its bytes.
func (r *fzRun) hold(got []byte) {
	if len(got) > 0 && len(r.held) < fzMaxHeld {
		r.held = append(r.held, fzHeld{got: got, want: bytes.Clone(got)})
	}
}

func (r *fzRun) checkHeld(where string) {
	for i, h := range r.held {
		if !bytes.Equal(h.got, h.want) {
			r.fail("slice %d (%d bytes) from Peek or Next changed before %s returned (first difference at %d)",
				i, len(h.want), where, fzDiff(h.got, h.want))
		}
	}
	clear(r.held)
	r.held = r.held[:0]
}

// payload returns n bytes of the output pattern, in a buffer the next payload
// reuses: Write must have copied them.
func (r *fzRun) payload(n int) []byte {
	n = min(n, max(fzMaxBytes-len(r.out), 0))
	r.scratch = r.scratch[:0]
	for i := 0; i < n; i++ {
		r.scratch = append(r.scratch, fzOutByte(len(r.out)+i))
	}
	return r.scratch
}

// wantWriteErr is what Write must return now.
func (r *fzRun) wantWriteErr() error {
	switch {
	case r.closed || r.state != fzOpen:
		return transport.ErrClosed
	case r.writeShut:
		return transport.ErrWriteShut
	}
	return nil
}

// do runs one op on the conn and checks the result.
func (r *fzRun) do(op fzOp) {
	c := r.c
	switch op.kind {
	case fzPeek:
		r.peek(fzN(op.arg, r.in.Len()))
	case fzNext:
		r.next(fzN(op.arg, r.in.Len()))
	case fzDiscard:
		r.discard(fzN(op.arg, r.in.Len()))
	case fzAll:
		switch op.arg % 3 {
		case 0:
			r.peek(-1)
		case 1:
			r.next(-1)
		default:
			r.discard(-1)
		}
	case fzWrite:
		r.writeOne(r.payload(fzWriteLen(op.arg)))
	case fzWritev:
		r.writev(r.payload(fzWriteLen(op.arg)))
	case fzEcho:
		if b := r.next(fzN(op.arg, r.in.Len())); len(b) > 0 {
			r.writeOne(b)
		}
	case fzAppend:
		// An append to a slice with no spare capacity copies it; one to a slice
		// that had some would write over the bytes after it, which the next
		// check of the unread bytes would see.
		_ = append(r.peek(fzN(op.arg, r.in.Len())), fzJunk[:]...)
	case fzFlush:
		// Flush fails only on a conn closed before it, or by its own write error;
		// a graceful close that it completes is no failure.
		closedBefore := r.closed
		err := c.Flush()
		var want error
		if closedBefore || (r.closed && r.state == fzDead) {
			want = transport.ErrClosed
		}
		if err != want {
			r.fail("Flush() = %v, want %v", err, want)
		}
	case fzClose:
		var want error
		if r.closed {
			want = transport.ErrClosed
		} else if r.state == fzOpen {
			r.state = fzClosing
		}
		if err := c.Close(); err != want {
			r.fail("Close() = %v, want %v", err, want)
		}
	case fzRecv:
		r.recv(fzWriteLen(op.arg))
	case fzSend:
		r.send(r.payload(fzWriteLen(op.arg)))
	case fzPause:
		if op.arg%2 == 0 {
			r.paused = true
			c.PauseRead()
		} else {
			r.paused = false
			c.ResumeRead()
		}
	case fzAsyncWrite:
		r.asyncWrite(bytes.Clone(r.payload(fzWriteLen(op.arg))))
	case fzAbort:
		var want error
		if r.closed {
			want = transport.ErrClosed
		} else {
			r.state = fzDead
		}
		if err := c.Abort(); err != want {
			r.fail("Abort() = %v, want %v", err, want)
		}
	case fzCloseWrite:
		var want error
		if r.closed || r.state != fzOpen {
			want = transport.ErrClosed
		}
		if err := c.CloseWrite(); err != want {
			r.fail("CloseWrite() = %v, want %v", err, want)
		}
		if want == nil {
			r.writeShut = true
		}
	case fzAsyncClose:
		if err := r.l.Submit(func() {
			if r.state == fzOpen && !r.closed {
				r.state = fzClosing
			}
		}); err != nil {
			r.fail("Submit: %v", err)
		}
		if err := c.AsyncClose(); err != nil {
			r.fail("AsyncClose() = %v", err)
		}
	}
	r.checkWire()
}

func (r *fzRun) peek(n int) []byte {
	if !r.checkBuffered() {
		return nil
	}
	got, err := r.c.Peek(n)
	all := r.in.Bytes()
	want, wantErr := all, error(nil)
	switch {
	case n > len(all):
		wantErr = io.ErrShortBuffer
	case n >= 0:
		want = all[:n]
	}
	if err != wantErr || !bytes.Equal(got, want) {
		r.fail("Peek(%d) with %d buffered = %d bytes, %v; want %d bytes, %v (first difference at %d)",
			n, len(all), len(got), err, len(want), wantErr, fzDiff(got, want))
	}
	if cap(got) != len(got) {
		r.fail("Peek(%d) returned %d bytes with capacity %d: an append would overwrite the buffer", n, len(got), cap(got))
	}
	r.hold(got)
	return got
}

func (r *fzRun) next(n int) []byte {
	if !r.checkBuffered() {
		return nil
	}
	buffered := r.in.Len()
	got, err := r.c.Next(n)
	var want []byte
	var wantErr error
	switch {
	case n > buffered:
		wantErr = io.ErrShortBuffer
	case n < 0:
		want = r.in.Next(buffered)
	default:
		want = r.in.Next(n)
	}
	if err != wantErr || !bytes.Equal(got, want) {
		r.fail("Next(%d) with %d buffered = %d bytes, %v; want %d bytes, %v (first difference at %d)",
			n, buffered, len(got), err, len(want), wantErr, fzDiff(got, want))
	}
	if cap(got) != len(got) {
		r.fail("Next(%d) returned %d bytes with capacity %d: an append would overwrite the buffer", n, len(got), cap(got))
	}
	r.hold(got)
	return got
}

func (r *fzRun) discard(n int) {
	if !r.checkBuffered() {
		return
	}
	buffered := r.in.Len()
	got, err := r.c.Discard(n)
	want, wantErr := n, error(nil)
	switch {
	case n < 0:
		want = buffered
	case n > buffered:
		want, wantErr = buffered, io.ErrShortBuffer
	}
	r.in.Next(want)
	if got != want || err != wantErr {
		r.fail("Discard(%d) with %d buffered = %d, %v; want %d, %v", n, buffered, got, err, want, wantErr)
	}
}

func (r *fzRun) writeOne(p []byte) {
	wantErr := r.wantWriteErr()
	n, err := r.c.Write(p)
	if err != wantErr || (err == nil && n != len(p)) || (err != nil && n != 0) {
		r.fail("Write(%d bytes) = %d, %v; want %v", len(p), n, err, wantErr)
		return
	}
	if err == nil {
		r.out = append(r.out, p...)
	}
}

// writev writes p in three pieces, the middle one empty.
func (r *fzRun) writev(p []byte) {
	wantErr := r.wantWriteErr()
	half := len(p) / 2
	n, err := r.c.Writev([][]byte{p[:half], nil, p[half:]})
	if err != wantErr || (err == nil && n != len(p)) || (err != nil && n != 0) {
		r.fail("Writev(%d bytes) = %d, %v; want %v", len(p), n, err, wantErr)
		return
	}
	if err == nil {
		r.out = append(r.out, p...)
	}
}

func (r *fzRun) send(p []byte) {
	wantErr := r.wantWriteErr()
	n, err := r.c.Send(p)
	switch {
	case wantErr != nil:
		if err != wantErr || n != 0 {
			r.fail("Send(%d bytes) = %d, %v; want 0, %v", len(p), n, err, wantErr)
		}
		return
	case err != nil:
		if r.state != fzDead || n != 0 {
			r.fail("Send(%d bytes) = %d, %v with no write error", len(p), n, err)
		}
		return
	case n < 0 || n > len(p):
		r.fail("Send(%d bytes) = %d", len(p), n)
		return
	}
	r.out = append(r.out, p[:n]...)
}

// recv checks Recv: the buffered bytes first, else what one read(2) gives.
func (r *fzRun) recv(size int) {
	if !r.checkBuffered() {
		return
	}
	p := make([]byte, size)
	closed, buffered, readEOF, reads := r.closed, r.in.Len(), r.readEOF, r.reads
	r.inRecv = true
	n, err := r.c.Recv(p)
	r.inRecv = false
	var wantN int
	var wantErr error
	switch {
	case closed:
		wantErr = transport.ErrClosed
	case buffered > 0:
		wantN = min(size, buffered)
	case readEOF:
		wantErr = io.EOF
	case size == 0:
		// Nothing buffered and no room: (0, nil) without a read(2).
		if r.reads != reads {
			r.fail("Recv(0 bytes) made a read(2)")
			return
		}
	case r.reads == reads:
		r.fail("Recv(%d bytes) with nothing buffered made no read(2)", size)
		return
	case r.lastRead.err == unix.EAGAIN:
	case r.lastRead.err != nil:
		if !errors.Is(err, r.lastRead.err) || n != 0 {
			r.fail("Recv(%d bytes) = %d, %v after read(2) failed with %v", size, n, err, r.lastRead.err)
		}
		return
	case r.lastRead.n > 0:
		wantN = r.lastRead.n
	case r.readEOF:
		wantErr = io.EOF
	default:
		// read(2) into an empty buffer returned 0: that is no EOF.
	}
	if n != wantN || err != wantErr {
		r.fail("Recv(%d bytes) with %d buffered = %d, %v; want %d, %v", size, buffered, n, err, wantN, wantErr)
		return
	}
	if want := r.in.Next(n); !bytes.Equal(p[:n], want) {
		r.fail("Recv(%d bytes) returned the wrong bytes (first difference at %d)", size, fzDiff(p[:n], want))
	}
}

// asyncWrite queues p with AsyncWrite. A task submitted just before it lets the
// model append p at the moment the conn does (they run back to back).
func (r *fzRun) asyncWrite(p []byte) {
	a := &fzAsync{}
	r.async = append(r.async, a)
	if err := r.l.Submit(func() {
		a.ran = true
		if a.wantErr = r.wantWriteErr(); a.wantErr == nil {
			r.out = append(r.out, p...)
			a.end = len(r.out)
		}
	}); err != nil {
		r.fail("Submit: %v", err)
	}
	err := r.c.AsyncWrite(p, func(err error) {
		a.calls++
		switch {
		case !a.ran:
			r.fail("AsyncWrite callback ran (%v) before its task", err)
		case a.calls > 1:
			r.fail("AsyncWrite callback ran %d times", a.calls)
		case a.wantErr != nil:
			if err != a.wantErr {
				r.fail("AsyncWrite refused with %v, want %v", err, a.wantErr)
			}
		case err == nil:
			if len(r.wire) < a.end {
				r.fail("AsyncWrite done(nil) with %d bytes written, its bytes end at %d", len(r.wire), a.end)
			}
		case len(r.wire) >= a.end:
			r.fail("AsyncWrite done(%v) although its bytes were written", err)
		case r.state == fzOpen:
			r.fail("AsyncWrite done(%v) on an open conn", err)
		}
	})
	if err != nil {
		r.fail("AsyncWrite() = %v", err)
	}
}

// read is the fake read(2) on the conn's fd.
func (r *fzRun) read(p []byte) (int, error) {
	if !r.inRecv && (r.closed || r.state != fzOpen || r.paused || r.readEOF) {
		r.fail("read(2) by a conn that must not read: state %d, closed %v, paused %v, EOF %v",
			r.state, r.closed, r.paused, r.readEOF)
	}
	r.reads++
	n, err := r.kernelRead(p)
	r.lastRead = fzResult{n, err}
	return n, err
}

func (r *fzRun) kernelRead(p []byte) (int, error) {
	switch {
	case r.intrRead:
		r.intrRead = false
		return 0, unix.EINTR
	case r.readErr != nil:
		err := r.readErr
		r.readErr, r.state = nil, fzDead
		return 0, err
	case len(p) == 0:
		return 0, nil // as the kernel does: nothing asked, nothing read, no EOF
	case r.arrived == r.delivered && r.peerShut:
		r.readEOF = true
		if !r.inRecv && !r.eofHandler && r.state == fzOpen {
			r.state = fzClosing // without OnEOF the conn closes itself
		}
		return 0, nil
	case r.arrived == r.delivered:
		return 0, unix.EAGAIN
	}
	n := min(len(p), r.arrived-r.delivered)
	if r.readCap > 0 {
		n = min(n, r.readCap)
	}
	for i := range p[:n] {
		p[i] = fzInByte(r.delivered + i)
	}
	r.delivered += n
	r.in.Write(p[:n])
	return n, nil
}

// write is the fake write(2) on the conn's fd.
func (r *fzRun) write(p []byte) (int, error) {
	switch {
	case r.closed || r.shutDown:
		r.fail("write(2) of %d bytes after close or shutdown", len(p))
	case len(p) == 0:
		r.fail("write(2) of nothing")
	}
	switch {
	case r.intrWrite:
		r.intrWrite = false
		return 0, unix.EINTR
	case r.writeErr != nil:
		err := r.writeErr
		r.writeErr, r.state = nil, fzDead
		return 0, err
	case r.writeCap == 0:
		return 0, unix.EAGAIN
	}
	n := len(p)
	if r.writeCap > 0 {
		n = min(n, r.writeCap)
	}
	r.wire = append(r.wire, p[:n]...)
	return n, nil
}

// shutdown is the fake shutdown(2) on the conn's fd: CloseWrite must have had
// everything written first.
func (r *fzRun) shutdown() {
	if len(r.wire) != len(r.out) {
		r.fail("shutdown with %d of %d bytes written", len(r.wire), len(r.out))
	}
	r.shutDown = true
}

// fzHandler runs the current step's ops in OnData and checks the callbacks.
type fzHandler struct{ r *fzRun }

func (h *fzHandler) OnOpen(*transport.Conn) {}

func (h *fzHandler) OnData(c *transport.Conn) {
	r := h.r
	r.onData++
	if r.closed || r.state != fzOpen || r.paused {
		r.fail("OnData on a conn that must not read: state %d, closed %v, paused %v", r.state, r.closed, r.paused)
	}
	if c.Buffered() == 0 {
		r.fail("OnData with nothing buffered")
	}
	r.checkContent("OnData")
	ops := r.ops
	r.ops = nil
	for _, op := range ops {
		if r.failures > 0 {
			break
		}
		r.do(op)
	}
	r.checkHeld("OnData")
}

func (h *fzHandler) OnWritable(*transport.Conn) {}

func (h *fzHandler) OnClose(c *transport.Conn, err error) {
	r := h.r
	if r.closed {
		r.fail("OnClose(%v) ran twice", err)
	}
	r.closed = true
	switch r.state {
	case fzOpen:
		r.fail("OnClose(%v) on a conn that should be open", err)
	case fzClosing:
		if err != nil {
			r.fail("OnClose(%v) after a graceful close", err)
		}
		if len(r.wire) != len(r.out) {
			r.fail("graceful close with %d of %d bytes written", len(r.wire), len(r.out))
		}
	case fzDead:
		if err == nil {
			r.fail("OnClose(nil) after an error or Abort")
		}
	}
}

// fzEOFHandler adds OnEOF: the conn stays open after the peer's EOF.
type fzEOFHandler struct{ *fzHandler }

func (h fzEOFHandler) OnEOF(*transport.Conn) {
	if !h.r.readEOF {
		h.r.fail("OnEOF before read(2) returned EOF")
	}
}
