// Package sys is sycamore's one door to the kernel. Every system call the runtime
// makes on a socket, a poller or a wakeup fd goes through a function value in this
// package, so that tests can swap one for a fake and provoke EMFILE, ECONNRESET,
// EAGAIN, EINTR or a short write deterministically instead of hoping for them.
//
// The values are package-level variables read on every call. Production code never
// assigns them; tests that do must restore them (see Swap) and must not run in
// parallel with other tests of the same process that make the same call.
package sys

import "golang.org/x/sys/unix"

// Calls shared by every Unix backend.
var (
	// Read reads from a non-blocking fd.
	Read = unix.Read
	// Close closes an fd.
	Close = unix.Close
	// Shutdown shuts down one or both directions of a socket.
	Shutdown = unix.Shutdown
	// Socket creates a socket; Connect starts a connect on it.
	Socket  = unix.Socket
	Connect = unix.Connect
	// Getsockopt and Setsockopt read and set integer socket options.
	GetsockoptInt = unix.GetsockoptInt
	SetsockoptInt = unix.SetsockoptInt
)

// Swap replaces *slot with fake and returns a function that restores the original.
// It is meant for tests: `defer sys.Swap(&sys.Read, fakeRead)()`.
func Swap[F any](slot *F, fake F) (restore func()) {
	old := *slot
	*slot = fake
	return func() { *slot = old }
}

// Retry calls f until it returns something other than EINTR. Every wrapper that can
// be interrupted by a signal (and Go sends SIGURG for preemption) uses it.
func Retry[T any](f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err != unix.EINTR {
			return v, err
		}
	}
}

// Listener calls, and Open for the listener's spare fd.
var (
	Bind   = unix.Bind
	Listen = unix.Listen
	Open   = unix.Open
)

// Socket housekeeping: addresses, fd flags and the linger option Abort sets.
var (
	Getsockname      = unix.Getsockname
	Getpeername      = unix.Getpeername
	SetNonblock      = unix.SetNonblock
	CloseOnExec      = unix.CloseOnExec
	SetsockoptLinger = unix.SetsockoptLinger
	// Dup duplicates an fd (the poller's, for parking in the Go runtime's poller).
	Dup = unix.Dup
)

// Datagram calls for systems without recvmmsg and sendmmsg (see mmsg_linux.go):
// one datagram a call.
var (
	Recvmsg = unix.Recvmsg
	Sendto  = unix.Sendto
)
