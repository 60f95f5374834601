package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// ErrNotListener: the fd given to FileListener or ListenerFromFd is not a
// listening stream socket (not a socket, a datagram socket, or a socket that
// was never passed to listen(2)).
var ErrNotListener = errors.New("transport: not a listening stream socket")

// FileListener returns a Listener on a copy of the listening socket f holds: an
// inherited one (os.NewFile of an fd from the parent process or from systemd),
// or one from another Listener's File or a *net.TCPListener's File. f stays the
// caller's: it may close it at once; the Listener's copy (close-on-exec) keeps
// the socket open.
//
// The socket must be a listening stream socket of family IPv4, IPv6 or unix;
// anything else fails with ErrNotListener or ErrNetwork and leaves f as it was.
// The Listener makes the socket non-blocking. That flag belongs to the socket,
// not to one fd, so every other copy of it (f included, and the copy a parent
// process keeps) is non-blocking from then on; a process that serves the same
// socket must not set it back to blocking, or the loop's accept would block.
//
// Close of an adopted unix socket listener never removes the socket's path: the
// process that bound it, or another holding the same socket, may still serve
// it. Safe from any goroutine.
func FileListener(f *os.File) (*Listener, error) {
	// SyscallConn rather than Fd: Fd puts a socket that came from package net
	// into blocking mode, for every copy of it.
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("transport: FileListener: %w", err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(raw uintptr) { fd, dupErr = sys.DupCloexec(int(raw)) }); err != nil {
		return nil, fmt.Errorf("transport: FileListener %s: %w", f.Name(), err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("transport: FileListener %s: dup: %w", f.Name(), dupErr)
	}
	ln, err := adoptListener(fd, f.Name())
	if err != nil {
		sys.Close(fd)
		return nil, err
	}
	return ln, nil
}

// ListenerFromFd returns a Listener on fd, a listening stream socket, and takes
// fd over: on success the Listener owns it, makes it non-blocking and
// close-on-exec, and closes it on Close. On error fd is left open and
// unchanged, still the caller's. What FileListener says about the non-blocking
// flag and about unix socket paths holds here too. Safe from any goroutine.
func ListenerFromFd(fd int) (*Listener, error) {
	if fd < 0 {
		return nil, fmt.Errorf("transport: ListenerFromFd: bad fd %d", fd)
	}
	return adoptListener(fd, "fd "+strconv.Itoa(fd))
}

// adoptListener checks that fd is a listening stream socket of a family the
// transport serves and makes a Listener of it; what names the fd in errors.
// Until the checks pass it changes nothing on fd.
func adoptListener(fd int, what string) (*Listener, error) {
	typ, err := sys.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	switch {
	case err == unix.ENOTSOCK:
		return nil, fmt.Errorf("%w: %s is not a socket", ErrNotListener, what)
	case err != nil:
		return nil, fmt.Errorf("transport: %s: SO_TYPE: %w", what, err)
	case typ != unix.SOCK_STREAM:
		return nil, fmt.Errorf("%w: %s is a %s socket", ErrNotListener, what, socketTypeName(typ))
	}
	// BSD kernels answer SO_ACCEPTCONN with the option's bit, Linux with 1.
	listening, err := sys.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	switch {
	case err != nil:
		return nil, fmt.Errorf("transport: %s: SO_ACCEPTCONN: %w", what, err)
	case listening == 0:
		return nil, fmt.Errorf("%w: %s is a stream socket that is not listening", ErrNotListener, what)
	}
	bound, err := sys.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("transport: %s: getsockname: %w", what, err)
	}
	addr := sockaddrToAddr(bound)
	if addr == nil {
		return nil, fmt.Errorf("%w: %s is bound to a %T address", ErrNetwork, what, bound)
	}
	if err := sys.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("transport: %s: %w", what, err)
	}
	if err := sys.SetCloseOnExec(fd); err != nil {
		return nil, fmt.Errorf("transport: %s: close-on-exec: %w", what, err)
	}
	// No unixPath: an adopted unix socket's path is not this process's to remove.
	return &Listener{fd: fd, spare: -1, addr: addr}, nil
}

// socketTypeName names a socket type for error messages.
func socketTypeName(typ int) string {
	switch typ {
	case unix.SOCK_DGRAM:
		return "datagram"
	case unix.SOCK_SEQPACKET:
		return "seqpacket"
	case unix.SOCK_RAW:
		return "raw"
	}
	return "type " + strconv.Itoa(typ)
}

// File returns a copy of the listening socket (a new fd, close-on-exec) for
// handing to another process, through exec.Cmd.ExtraFiles (which clears
// close-on-exec in the child) or a unix socket's SCM_RIGHTS; there,
// FileListener, ListenerFromFd or net.FileListener serves it. Connections
// waiting in the accept queue go to whichever process accepts first; none is
// refused while any copy stays open. The caller closes the file.
//
// The copy is non-blocking like the Listener's fd (the flag is the socket's),
// and stays so: its Fd method does not set it to blocking, as Fd of a file from
// package net would. A receiver must not set it to blocking while this
// Listener serves.
//
// After File, Close no longer removes a unix socket's path: the socket lives on
// in whoever holds the copy, and its path with it. Returns ErrClosed once Close
// has begun. Safe from any goroutine.
func (ln *Listener) File() (*os.File, error) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.closed {
		return nil, ErrClosed
	}
	// Under mu with closed false, the fd is open: Close marks closed before it
	// closes (or has the loop close) the fd.
	fd, err := sys.DupCloexec(ln.fd)
	if err != nil {
		return nil, fmt.Errorf("transport: Listener.File: dup: %w", err)
	}
	ln.unixPath = ""
	return os.NewFile(uintptr(fd), fileName(ln.addr)), nil
}

// fileName names a listener's file as "tcp:127.0.0.1:8080" or "unix:/run/x.sock".
func fileName(addr net.Addr) string {
	if addr == nil {
		return "listener"
	}
	return addr.Network() + ":" + addr.String()
}
