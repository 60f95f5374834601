package main

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// hangUp ends a conn whose every echo was verified, and waits for the
// server to close its side: it checks that nothing unasked is waiting, shuts
// down its writing side (FIN), and reads until the server's FIN, which the
// echo server sends when it closes its fd after reading our end-of-file. Any
// byte before that FIN is a surplus echo. The slot dials a replacement only
// after this, so the server never holds more than -conns soak conns however
// far it lags behind churn: with 19,000 conns under a 20,000-fd limit there
// is no room for a backlog of conns the server has yet to close. It reports
// whether the conn ended cleanly.
func (cl *client) hangUp(c net.Conn, id uint64) bool {
	cl.n.closing.Add(1)
	defer cl.n.closing.Add(-1)
	if !cl.checkQuiet(c, id) {
		return false
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return true
	}
	if err := tc.CloseWrite(); err != nil {
		cl.ioFailure(err, "shutdown", id, 0)
		return false
	}
	start := time.Now()
	c.SetReadDeadline(start.Add(closeTimeout))
	var buf [64]byte
	for {
		n, err := c.Read(buf[:])
		switch {
		case n > 0:
			cl.n.mismatches.Add(1)
			cl.note("surplus: conn %#x got %d bytes after its last echo, starting %#02x", id, n, buf[0])
			return false
		case errors.Is(err, io.EOF):
			cl.closeWaited(time.Since(start))
			return true
		case errors.Is(err, os.ErrDeadlineExceeded):
			cl.n.closeTimeouts.Add(1)
			cl.note("close: conn %#x: no FIN from the server %v after ours", id, closeTimeout)
			return false
		case err != nil:
			cl.ioFailure(err, "read after shutdown", id, 0)
			return false
		}
	}
}

// closeWaited records how long the server took to answer our FIN with its own.
func (cl *client) closeWaited(d time.Duration) {
	cl.n.closeWaits.Add(1)
	cl.n.closeWaitNs.Add(int64(d))
	for {
		m := cl.n.closeWaitMaxNs.Load()
		if int64(d) <= m || cl.n.closeWaitMaxNs.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// checkQuiet makes sure nothing is waiting to be read on an idle conn that is
// about to close: a byte there is one the server sent unasked (a duplicate
// echo), and end-of-file means the server closed the conn on its own. It is
// one non-blocking read(2), no wait, and reports whether the conn was quiet.
func (cl *client) checkQuiet(c net.Conn, id uint64) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	// The last round trip's deadline may have passed; RawConn.Read would
	// then fail without calling the function at all.
	c.SetReadDeadline(time.Time{})
	var buf [1]byte
	n, rerr := -1, error(nil)
	err = raw.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf[:])
		return true // one attempt: EAGAIN is the expected answer
	})
	switch {
	case err != nil:
		cl.ioFailure(err, "idle check", id, 0)
	case n > 0:
		cl.n.mismatches.Add(1)
		cl.note("surplus: conn %#x had byte %#02x waiting after its last echo", id, buf[0])
	case n == 0 && rerr == nil:
		cl.n.unexpectedCloses.Add(1)
		cl.note("close: conn %#x (%v) was closed by the server while idle", id, c.LocalAddr())
	case rerr != nil && !errors.Is(rerr, syscall.EAGAIN):
		cl.ioFailure(rerr, "idle check", id, 0)
	default:
		return true
	}
	return false
}
