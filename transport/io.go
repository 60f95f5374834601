package transport

import (
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// stream is a conn's I/O seam: the one place where its bytes meet the kernel.
// The read path (bytes for OnData and Recv), the write path (the queue's flush,
// Send) and the end of the write side all go through it, and nothing above it
// knows what is underneath. The plain socket is the default; a layer that
// transforms the stream (TLS: decrypt after the read, encrypt before the write)
// or gets its bytes another way (a completion-based backend whose kernel fills
// buffers and reports completions) implements it and is set in connExtra.io.
// Handler, Peek/Next/Discard, Write, AsyncWrite and Close keep their semantics
// over any of them. Loop goroutine only.
type stream interface {
	// read fills p with the conn's next input bytes: (n > 0, nil); (0, nil) at the
	// peer's orderly end of stream; (0, EAGAIN) when nothing is ready (the conn
	// waits for the next Readable event); any other error ends the conn.
	read(c *Conn, p []byte) (int, error)
	// write hands the kernel as much of p as it takes now and returns how many
	// bytes of p it took: (0, EAGAIN) when none, and the conn waits for Writable.
	// Any other error ends the conn. A layer may hold transformed bytes of p's
	// head that the kernel has not taken (setting streamHeld): it does not count
	// them, and the next call's p starts with the same bytes. With p empty, write
	// only writes what the layer holds.
	write(c *Conn, p []byte) (int, error)
	// closeWrite ends the write side once everything queued is written: the peer
	// reads end of stream.
	closeWrite(c *Conn) error
	// reset makes the coming close a reset (RST) that drops unsent bytes.
	reset(c *Conn)
	// release gives back what the layer holds, when the conn closes, before its
	// fd is given up.
	release(c *Conn)
}

// socket is the plain stream: the conn's bytes are the socket's. Every call
// retries EINTR.
type socket struct{}

// plain is the stream of every conn without a layer of its own.
var plain stream = socket{}

// stream returns the conn's I/O layer.
func (c *Conn) stream() stream {
	if x := c.extra; x != nil && x.io != nil {
		return x.io
	}
	return plain
}

func (socket) read(c *Conn, p []byte) (int, error) {
	return sys.Retry(func() (int, error) { return sys.Read(int(c.fd), p) })
}

func (socket) write(c *Conn, p []byte) (int, error) {
	return sys.Retry(func() (int, error) { return sys.Write(int(c.fd), p) })
}

func (socket) closeWrite(c *Conn) error {
	return sys.Shutdown(int(c.fd), unix.SHUT_WR)
}

func (socket) release(*Conn) {}

func (socket) reset(c *Conn) {
	// SO_LINGER with a zero timeout: close(2) then sends RST at once.
	sys.SetsockoptLinger(int(c.fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}
