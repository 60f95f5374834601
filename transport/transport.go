// Package transport turns sockets into loop targets: Conn, a buffered stream with
// asyncore's events and pike's send/recv semantics; Listener, which accepts until
// EAGAIN; and Dial, a non-blocking connect.
//
// # Events
//
// A Handler gets OnOpen when the conn is usable (at once for an accepted or adopted
// fd, when the connect finishes for Dial), OnData when bytes arrived, OnWritable
// only when it asked for it (DeferWrite, or a Send that would block), and OnClose
// exactly once at the end, with nil for an orderly close and the error otherwise. A
// handler that also implements EOFHandler hears about the peer's half-close and
// keeps the conn open for writing; without it, EOF closes the conn once its queued
// bytes are written.
//
// # Guarantees
//
//   - OnClose runs exactly once per Conn whose OnOpen ran, and for a Dial whose
//     connect failed. After it, every method returns ErrClosed.
//   - Bytes given to Write are written in order. Close writes them all before
//     closing (unless the peer resets first); Abort and a peer reset drop them, and
//     every AsyncWrite callback still pending then runs with the error.
//   - Close stops reading: unread input is dropped, and a peer still sending then
//     gets a reset from the kernel. To take a peer's last bytes, CloseWrite and
//     Close on OnEOF.
//   - AsyncWrite's done runs exactly once: nil once its bytes are in the kernel's
//     send buffer, or the error that closed the conn first.
//   - An idle conn (nothing buffered either way) owns no buffer.
//
// # Goroutines
//
// Conn methods are for the loop goroutine of the conn's loop (its handlers, tasks,
// timers) unless their doc says "safe from any goroutine": AsyncWrite and
// AsyncClose are, and hand their work to the loop with Submit. Dial is safe from
// any goroutine and never waits for the loop. Built with -tags
// sycamore_checkowner, every loop-only method panics when called from another
// goroutine, naming itself.
//
// # Inside
//
// Each conn holds its loop.Registration: the interest it wants, its one-shot
// write notification (OnWritable owed after DeferWrite or a blocked Send) and its
// round-end call live there, once. The conn registers as a private loop.Target,
// so the loop's plumbing (HandleEvent, OnRoundEnd, Finalize) stays off Conn; the
// loop runs each of those callbacks guarded, so a panic anywhere closes the conn.
// The engine (shard) reaches what it needs beyond the user's API through
// internal/connctl.
//
// Every byte a conn moves goes through one small internal I/O seam, the stream:
// read fills the bytes that OnData and Recv see, write takes bytes from the write
// queue (and Send), closeWrite ends the write side, reset makes the close a
// reset. The plain socket is the default. A layer that transforms the stream
// (TLS: decrypt after reading, encrypt before writing) or that gets its bytes
// another way (a completion-based backend such as io_uring, whose kernel fills
// buffers and reports completions that Registration.Deliver can hand in)
// implements the stream; Handler, Peek, Next, Discard, Write, AsyncWrite and
// Close keep their semantics over it.
package transport

import (
	"errors"
	"time"
)

// Handler receives a conn's events, on the conn's loop goroutine.
type Handler interface {
	// OnOpen: the conn is connected. Writes made here are flushed when it returns.
	OnOpen(c *Conn)
	// OnData: bytes arrived. Read them with Peek, Next, Discard; bytes left unread
	// stay buffered for the next OnData. Writes are flushed when it returns.
	OnData(c *Conn)
	// OnWritable: the socket can take more bytes; only after DeferWrite or a Send
	// that returned 0.
	OnWritable(c *Conn)
	// OnClose: the conn is closed; err is nil for an orderly close.
	OnClose(c *Conn, err error)
}

// EOFHandler is an optional Handler method for protocols that use half-close: it
// is called when the peer shuts its writing side. The conn stays open for writing
// (call Close when done); without this method the conn closes itself once its
// queued bytes are written.
type EOFHandler interface {
	OnEOF(c *Conn)
}

// BaseHandler has no-op Handler methods, to embed in handlers that need only some.
// Its methods, like every Handler method, run on the conn's loop goroutine.
type BaseHandler struct{}

func (BaseHandler) OnOpen(*Conn)         {}
func (BaseHandler) OnData(*Conn)         {}
func (BaseHandler) OnWritable(*Conn)     {}
func (BaseHandler) OnClose(*Conn, error) {}

// Config tunes a Conn. The zero value works: no TCP options, default water marks.
type Config struct {
	// HighWater: when more than this many bytes are queued for writing, the conn
	// stops reading (no OnData) until the queue drains below LowWater. 0 means
	// DefaultHighWater; negative disables the pause.
	HighWater int
	// LowWater: reading resumes when the queue drains below it; 0 means HighWater/2.
	LowWater int
	// MaxQueued is the hard limit on what the conn owes its peer (Pending):
	// bytes written with Write, Writev and AsyncWrite, AsyncWrites still on their
	// way to the loop included, that the kernel has not taken. A conn beyond it
	// is closed at once with a reset and ErrSlowConsumer: its queue is dropped,
	// OnClose and every waiting AsyncWrite callback get ErrSlowConsumer, and
	// AsyncWrite returns it without queueing anything. On the loop the limit is
	// checked after the flush that follows a callback, so a handler's own reply
	// counts only for what the kernel does not take; AsyncWrite checks at once,
	// from its goroutine, against all the conn owes, a reply the handler has
	// queued and not yet flushed included. 0: no limit.
	MaxQueued int
	// SoftMaxQueued and SoftMaxQueuedFor are the soft limit (Redis's
	// client-output-buffer-limit soft limit and seconds): a conn that owes more
	// than SoftMaxQueued for SoftMaxQueuedFor without a break is closed as
	// MaxQueued closes it. Both or neither; SoftMaxQueued below MaxQueued.
	SoftMaxQueued    int
	SoftMaxQueuedFor time.Duration
	// NoDelay sets TCP_NODELAY (TCP only).
	NoDelay bool
	// KeepAlive, when positive, turns on TCP keep-alive probes with this idle time
	// and interval (TCP only).
	KeepAlive time.Duration
	// IdleTimeout, when positive, is applied with SetIdleTimeout when the conn opens.
	IdleTimeout time.Duration
	// TLS, when set, makes the conn speak TLS: a server when accepted or adopted,
	// a client when dialled. See TLS.
	TLS *TLS
}

// DefaultHighWater is the write-queue size above which reading pauses.
const DefaultHighWater = 4 << 20

// State is where a Conn is in its life.
type State uint8

const (
	Connecting State = iota // Dial's connect is in progress
	Open                    // connected
	Closing                 // Close was called; queued bytes are being written
	Closed                  // OnClose has run
)

// String names the state. Safe from any goroutine.
func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Open:
		return "open"
	case Closing:
		return "closing"
	case Closed:
		return "closed"
	}
	return "unknown"
}

var (
	// ErrClosed: the conn or listener is closed.
	ErrClosed = errors.New("transport: closed")
	// ErrAborted: the conn was closed with Abort; queued bytes were dropped.
	ErrAborted = errors.New("transport: connection aborted")
	// ErrIdleTimeout: no bytes moved either way for the idle timeout.
	ErrIdleTimeout = errors.New("transport: idle timeout")
	// ErrWriteShut: Write after CloseWrite.
	ErrWriteShut = errors.New("transport: write side shut down")
	// ErrNetwork: a network other than tcp, tcp4, tcp6 and unix.
	ErrNetwork = errors.New("transport: unsupported network (want tcp, tcp4, tcp6 or unix)")
)
