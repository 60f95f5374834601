package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// maxLine is the longest request line accepted, newline excluded: 4 KiB is far
// more than any valid request needs and small enough that a client cannot make
// the server buffer much while it waits for a newline.
const maxLine = 4 << 10

// maxHeld caps the bytes of answers computed on the loop but held back behind a
// slow answer that is still owed (64 KiB, some thirteen thousand FAST answers).
// Above it the conn stops reading until the slow answer is written, so a client
// that pipelines without reading cannot grow the server's memory.
const maxHeld = 64 << 10

var fastAnswer = []byte("fast\n")

// server is the handler, shared by every conn of every loop; per-conn state is
// a session in the conn's context.
type server struct {
	transport.BaseHandler
	e   *shard.Engine
	dir string
}

func newServer(e *shard.Engine, dir string) (*server, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("-dir: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("-dir %s: not a directory", dir)
	}
	return &server{e: e, dir: dir}, nil
}

// session is one conn's state. Loop goroutine only.
type session struct {
	// last is the newest offloaded request whose answer is still owed, or nil.
	// Answers computed on the loop while it is owed wait in last.after: the
	// engine runs the done calls of one conn in the order Offload was called,
	// so appending to the newest one keeps every answer in request order.
	last *owed
	// held says this handler paused reading because last.after reached
	// maxHeld; the conn reads again once last is delivered.
	held bool
	// closing says the conn closes once the owed answers are written; input is
	// dropped meanwhile.
	closing bool
}

// owed is an offloaded request whose answer has not been written yet.
type owed struct {
	after      []byte // answers to the requests that came after it
	closeAfter bool   // close the conn once they are written
}

// OnOpen gives the conn its session.
func (s *server) OnOpen(c *transport.Conn) { c.SetContext(&session{}) }

// OnData answers every complete request line. It stops early, leaving the rest
// unread, when the engine is overloaded (the engine paused the conn and offers
// the rest to OnData again when there is room) or when too many answers are
// held back (see maxHeld).
func (s *server) OnData(c *transport.Conn) {
	ss := c.Context().(*session)
	for !ss.held {
		if ss.closing {
			c.Discard(c.Buffered())
			return
		}
		buf, _ := c.Peek(-1)
		end := bytes.IndexByte(buf, '\n')
		if end > maxLine || (end < 0 && len(buf) > maxLine) {
			s.closeWith(c, ss, errorLine("line too long"))
			return
		}
		if end < 0 {
			return // wait for the rest of the line
		}
		if !s.serve(c, ss, bytes.TrimSuffix(buf[:end], []byte("\r"))) {
			return
		}
		c.Discard(end + 1)
	}
}

// OnEOF keeps the conn open for the answers still owed when the client shuts
// its writing side after its last request (as "printf ... | nc -N" does), and
// closes it once they are written.
func (s *server) OnEOF(c *transport.Conn) {
	ss := c.Context().(*session)
	if ss.last == nil {
		c.Close()
		return
	}
	ss.closing = true
	ss.last.closeAfter = true
}

// serve answers one request line, and reports false if the engine was too busy
// to take it: the line must then stay unread.
func (s *server) serve(c *transport.Conn, ss *session, line []byte) bool {
	cmd, arg, _ := bytes.Cut(line, []byte(" "))
	switch string(cmd) {
	case "FAST":
		if len(arg) > 0 {
			s.reply(c, ss, errorLine("FAST takes no argument"))
			return true
		}
		s.reply(c, ss, fastAnswer)
	case "HASH":
		n, err := parseRounds(string(arg))
		if err != nil {
			s.reply(c, ss, errorLine(err.Error()))
			return true
		}
		return s.offload(c, ss, func() []byte { return hashRounds(n) })
	case "FILE":
		name := string(arg)
		if err := checkName(name); err != nil {
			s.reply(c, ss, errorLine(err.Error()))
			return true
		}
		return s.offload(c, ss, func() []byte { return hashFile(s.dir, name) })
	default:
		s.reply(c, ss, errorLine("unknown command (want FAST, HASH or FILE)"))
	}
	return true
}

// reply writes an answer computed on the loop, or holds it back behind the
// answer still owed.
func (s *server) reply(c *transport.Conn, ss *session, answer []byte) {
	if ss.last == nil {
		c.Write(answer)
		return
	}
	ss.last.after = append(ss.last.after, answer...)
	if len(ss.last.after) >= maxHeld && !ss.held {
		// The engine pauses reads only while it returns ErrOverloaded, and then
		// OnData does not run, so this pause and the engine's never overlap.
		ss.held = true
		c.PauseRead()
	}
}

// offload runs work on the engine's worker pool and writes its answer when it
// comes back. Without a pool (-workers 0) work runs here, on the loop. It
// reports false when the engine is overloaded.
func (s *server) offload(c *transport.Conn, ss *session, work func() []byte) bool {
	o := &owed{}
	err := s.e.Offload(c,
		func() any { return work() },
		func(c *transport.Conn, result any) { s.deliver(c, ss, o, result) })
	switch {
	case err == nil:
		ss.last = o
	case errors.Is(err, shard.ErrNoWorkers):
		s.reply(c, ss, work())
	case errors.Is(err, shard.ErrOverloaded):
		return false
	default: // the engine is shutting down
		s.reply(c, ss, errorLine("server shutting down"))
	}
	return true
}

// deliver writes an offloaded answer and the answers held back behind it. The
// engine calls it on the conn's loop, in request order, even after the conn
// closed.
func (s *server) deliver(c *transport.Conn, ss *session, o *owed, result any) {
	if ss.last == o {
		ss.last = nil
	}
	if c.State() != transport.Open {
		return
	}
	answer, ok := result.([]byte)
	if !ok { // the work panicked: result is a *loop.PanicError, logged by the engine
		answer = errorLine("internal error")
	}
	c.Write(answer)
	c.Write(o.after)
	switch {
	case o.closeAfter:
		c.Close()
	case ss.held && ss.last == nil:
		ss.held = false
		c.ResumeRead()
	}
}

// closeWith answers reason and closes the conn, after the answers still owed.
func (s *server) closeWith(c *transport.Conn, ss *session, reason []byte) {
	ss.closing = true
	c.Discard(c.Buffered())
	if ss.last == nil {
		c.Write(reason)
		c.Close()
		return
	}
	ss.last.after = append(ss.last.after, reason...)
	ss.last.closeAfter = true
}
