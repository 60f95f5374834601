package shard

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/sycamore-go/sycamore/transport"
)

// ListenFile serves the listening socket f holds (inherited from a parent
// process, from systemd, or from another engine's ListenerFiles) with h on the
// engine's loops, like Listen: one acceptor hands every conn to the loop the
// balancer picks. That holds with Options.ReusePort too: an inherited socket is
// one fd, served by the acceptor; it is not split per loop. It may be called
// several times, before or after Start, and returns the socket's address.
//
// The engine serves its own copy of the socket (see transport.FileListener):
// f stays the caller's, to close whenever it likes, and the engine's Shutdown
// or Close closes only the copy. The socket is made non-blocking, for every
// copy of it. A unix socket adopted this way keeps its path when the engine
// closes. Not on a loop goroutine.
func (e *Engine) ListenFile(f *os.File, h transport.Handler) (net.Addr, error) {
	if f == nil {
		return nil, errors.New("shard: ListenFile: nil file")
	}
	return e.listen("ListenFile", "", h, func(handlers []transport.Handler) (net.Addr, error) {
		ln, err := transport.FileListener(f)
		if err != nil {
			return nil, err
		}
		return e.listenHandoff(ln, handlers)
	})
}

// ListenListener serves the socket of l, a *net.TCPListener or
// *net.UnixListener (any net.Listener with a File method), with h on the
// engine's loops, as ListenFile does. l stays the caller's: the engine serves a
// copy of its socket, so the caller may close l at once, and should not Accept
// on it meanwhile (it would take conns from the engine). Closing a
// *net.UnixListener removes its socket path unless SetUnlinkOnClose(false) was
// called first: clients could no longer find the socket the engine serves. Not
// on a loop goroutine.
func (e *Engine) ListenListener(l net.Listener, h transport.Handler) (net.Addr, error) {
	filer, ok := l.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("shard: ListenListener: a %T has no socket to serve (want a *net.TCPListener or *net.UnixListener)", l)
	}
	return e.listen("ListenListener", "", h, func(handlers []transport.Handler) (net.Addr, error) {
		// File's copy is only read (transport.FileListener copies it again and
		// never calls its Fd, which would set the socket blocking).
		f, err := filer.File()
		if err != nil {
			return nil, fmt.Errorf("shard: ListenListener: %w", err)
		}
		defer f.Close()
		ln, err := transport.FileListener(f)
		if err != nil {
			return nil, err
		}
		return e.listenHandoff(ln, handlers)
	})
}

// ListenerFiles returns a copy (a new fd, close-on-exec) of every listening
// socket of the engine, in the order Listen and its variants opened them, for
// handing to another process (exec.Cmd.ExtraFiles) or another engine, which
// serves each with ListenFile. Every file's Name is "network:address", such as
// "tcp:127.0.0.1:8080". While both hold the sockets, a new connection goes to
// whichever accepts first and none is refused, so the engine can then Shutdown
// and the receiver serves on alone. The caller closes the files.
//
// With Options.ReusePort a TCP address has one SO_REUSEPORT socket per loop,
// so it appears once per loop, under the same name. Each is a listener of its
// own and the receiver must serve every one (ListenFile each) or close it: the
// kernel gives each socket of the group its share of the new connections, and
// one kept open but not accepted from strands its share. There are then more
// files than Addrs.
//
// Handing a unix socket on keeps the engine from removing its path when it
// closes. It returns ErrClosed once Shutdown or Close has begun. Safe from any
// goroutine.
func (e *Engine) ListenerFiles() ([]*os.File, error) {
	if e.getState() >= draining {
		return nil, ErrClosed
	}
	e.mu.Lock()
	lns := append([]*transport.Listener(nil), e.listeners...)
	e.mu.Unlock()
	files := make([]*os.File, 0, len(lns))
	for _, ln := range lns {
		f, err := ln.File()
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			if errors.Is(err, transport.ErrClosed) { // Shutdown or Close began meanwhile
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("shard: ListenerFiles: %w", err)
		}
		files = append(files, f)
	}
	return files, nil
}
