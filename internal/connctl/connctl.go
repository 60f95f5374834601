// Package connctl is the engine's side door into transport: what shard must do to
// a conn that is no business of the conn's user (pause its reads for overload, ask
// whether it can close without losing a byte, close it after a panic in a callback
// the engine ran for it). transport fills in the hooks in its init and shard reads
// them, so transport.Conn exports the user's API only.
//
// The hooks are generic in the conn type because this package sits below
// transport and cannot name *transport.Conn; Get[*transport.Conn] is the one
// instantiation there is.
package connctl

import "github.com/sycamore-go/sycamore/loop"

// Hooks are transport's functions for the engine. Every one is for the loop
// goroutine of the conn's loop only.
type Hooks[C any] struct {
	// Of returns the conn registered on a loop as t, or false for a target that is
	// not a conn (a listener, a raw target).
	Of func(t loop.Target) (C, bool)
	// Throttle pauses (on) or resumes (off) the conn's reading on the engine's
	// behalf, apart from the handler's own PauseRead: reading goes on only once
	// neither is in force. Resuming offers buffered input to OnData again.
	Throttle func(c C, on bool)
	// Quiet reports whether the conn can be closed without losing a byte: open,
	// nothing buffered either way, and nothing unread in the kernel.
	Quiet func(c C) bool
	// Fail reports err to the loop's OnError, as a panic in one of the conn's
	// callbacks is reported, and closes the conn at once with it (OnClose gets
	// err): the engine's answer to a panic in a callback it ran for the conn. A
	// closed conn is left closed.
	Fail func(c C, err error)
	// Refuse closes an accepted socket that the engine will not make a conn.
	Refuse func(fd int)
	// Received reports whether the conn has read bytes in the current window
	// or the one before; next starts a new window (after answering). A
	// draining engine does not take a conn that is still receiving (an upload
	// over a slow link) for idle.
	Received func(c C, next bool) bool
}

var hooks any

// Set installs transport's hooks. transport calls it once, in its init.
func Set[C any](h *Hooks[C]) { hooks = h }

// Get returns the hooks installed for conn type C, nil if none are.
func Get[C any]() *Hooks[C] {
	h, _ := hooks.(*Hooks[C])
	return h
}
