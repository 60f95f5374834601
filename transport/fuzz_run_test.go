//go:build linux

package transport_test

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/poller"
	"github.com/sycamore-go/sycamore/transport"
)

// The model side of FuzzConnBuffers (fuzz_test.go): one run of a script against
// a conn, and the checks made after every step.

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
	transport.DeliverEvent(r.c, poller.Event{Fd: r.fd, Ready: ready})
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
