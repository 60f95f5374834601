package main

import (
	"github.com/sycamore-go/sycamore/transport"
)

// stackArgs is how many arguments a command may have before its argument list
// moves from OnData's stack to the heap. 24 fits redis-benchmark's MSET of ten
// keys (21 arguments); the arrays of arguments and of their spans cost OnData
// 960 bytes of stack to clear.
const stackArgs = 24

// outputBudget bounds the replies one connection may have waiting in its write
// queue before the server stops taking its next command: a pipeline of GETs of
// big values would otherwise queue all their replies at once (64 KiB of GET
// requests is two thousand replies). The transport's HighWater pause does not
// help here, as it only stops reading new bytes, not the handling of commands
// already read.
const outputBudget = 1 << 20

// server is the RESP handler: one for all loops. What it keeps for a
// connection is the parse state of a command that has not fully arrived (a
// partial, in the conn's Context, made the first time one is left incomplete),
// so an idle connection whose commands arrive whole costs only what the
// transport keeps for it.
type server struct {
	transport.BaseHandler
	ks  *keyspace
	hub *hub
}

func newServer(ks *keyspace, pubsubLimit int) *server {
	return &server{ks: ks, hub: newHub(pubsubLimit)}
}

// OnData answers every complete command in the input, in order; the transport
// writes all the answers with one syscall when OnData returns. An incomplete
// command is left unread, and the conn's partial records how far it was
// parsed, so that the next OnData resumes there when more arrives. A protocol
// error is answered, then the connection is closed, as redis-server does. Once
// outputBudget bytes of replies are queued, the commands still buffered wait
// for the queue to drain (see OnWritable). What the commands published goes
// to the subscribers' loops when it returns, one task per loop.
func (s *server) OnData(c *transport.Conn) {
	var pub *local
	s.serve(c, &pub)
	if pub != nil {
		s.hub.flush(pub)
	}
}

func (s *server) serve(c *transport.Conn, pub **local) {
	var argv [stackArgs][]byte
	var spanv [stackArgs]span
	var p *partial
	switch v := c.Context().(type) {
	case *partial:
		p = v
	case *subscriber:
		p = v.partial
	}
	for {
		buf, _ := c.Peek(-1)
		kept := p
		args, n, err := readCommand(buf, &p, spanv[:0], argv[:0])
		if p != kept {
			keepPartial(c, p) // the conn's first incomplete command
		}
		if err != nil {
			writeProtocolError(c, err)
			c.Close()
			return
		}
		if n == 0 {
			return // nothing left, or part of a command: wait for the rest
		}
		quit := len(args) > 0 && s.exec(c, args, pub)
		c.Discard(n)
		if quit {
			c.Close()
			return
		}
		if c.Queued() >= outputBudget && c.Buffered() > 0 {
			c.PauseRead()
			c.DeferWrite()
			return
		}
	}
}

// keepPartial puts the conn's partial in its Context, or in its subscriber.
func keepPartial(c *transport.Conn, p *partial) {
	if sub, ok := c.Context().(*subscriber); ok {
		sub.partial = p
		return
	}
	c.SetContext(p)
}

// OnClose ends the conn's subscriptions.
func (s *server) OnClose(c *transport.Conn, err error) {
	s.hub.forget(c)
}

// OnWritable runs once the replies OnData queued before pausing are all
// written: ResumeRead hands the commands still buffered back to OnData at the
// end of the round.
func (s *server) OnWritable(c *transport.Conn) {
	c.ResumeRead()
}

// exec runs one command and queues its reply. It reports whether the connection
// is to be closed once the reply is written (QUIT). A PUBLISH sets *pub to the
// publisher's local, whose messages OnData hands on when it returns.
func (s *server) exec(c *transport.Conn, args [][]byte, pub **local) (quit bool) {
	cmd := lookup(args[0])
	if cmd == nil {
		writeUnknownCommand(c, args)
		return false
	}
	if !cmd.arityOK(len(args)) {
		writeWrongArity(c, cmd.name)
		return false
	}
	if !cmd.pubsub && subscribed(c) {
		writeNotInSubscribedMode(c, cmd.name)
		return false
	}
	switch cmd.id {
	case cmdPublish:
		n, local := s.hub.publish(c, args[1], args[2])
		*pub = local
		writeInt(c, int64(n))
	case cmdSubscribe:
		s.hub.subscribe(c, channelKind, args[1:])
	case cmdPSubscribe:
		s.hub.subscribe(c, patternKind, args[1:])
	case cmdUnsubscribe:
		s.hub.unsubscribe(c, channelKind, args[1:])
	case cmdPUnsubscribe:
		s.hub.unsubscribe(c, patternKind, args[1:])
	case cmdGet:
		s.get(c, args)
	case cmdSet:
		s.set(c, args)
	case cmdPing:
		if subscribed(c) {
			pingSubscribed(c, args)
		} else {
			ping(c, args)
		}
	case cmdIncr:
		s.incr(c, args)
	case cmdMSet:
		s.mset(c, args)
	case cmdMGet:
		s.mget(c, args)
	case cmdDel:
		writeInt(c, int64(s.ks.del(args[1:])))
	case cmdExists:
		writeInt(c, int64(s.ks.exists(args[1:])))
	case cmdEcho:
		writeBulk(c, args[1])
	case cmdDBSize:
		writeInt(c, int64(s.ks.size()))
	case cmdSelect:
		selectDB(c, args)
	case cmdCommand:
		command(c, args)
	case cmdConfig:
		config(c, args)
	case cmdQuit:
		c.Write(replyOK)
		return true
	}
	return false
}

func (s *server) get(c *transport.Conn, args [][]byte) {
	if !s.ks.get(args[1], func(val []byte) { writeBulk(c, val) }) {
		c.Write(replyNull)
	}
}

// set is SET key value [NX|XX]. The expiry options (EX, PX, EXAT, PXAT,
// KEEPTTL) and GET are not supported: this keyspace has no expiry, and they are
// answered with a syntax error, as any option Redis does not know.
func (s *server) set(c *transport.Conn, args [][]byte) {
	mode := setAlways
	for _, opt := range args[3:] {
		switch {
		case equalFold(opt, "nx") && mode != setIfPresent:
			mode = setIfAbsent
		case equalFold(opt, "xx") && mode != setIfAbsent:
			mode = setIfPresent
		default:
			writeError(c, errSyntax)
			return
		}
	}
	if s.ks.set(args[1], args[2], mode) {
		c.Write(replyOK)
	} else {
		c.Write(replyNull)
	}
}

func (s *server) incr(c *transport.Conn, args [][]byte) {
	n, errText := s.ks.incr(args[1], 1)
	if errText != "" {
		writeError(c, errText)
		return
	}
	writeInt(c, n)
}

func (s *server) mset(c *transport.Conn, args [][]byte) {
	if len(args)%2 != 1 {
		writeWrongArity(c, "mset")
		return
	}
	s.ks.mset(args[1:])
	c.Write(replyOK)
}

func (s *server) mget(c *transport.Conn, args [][]byte) {
	writeArrayHeader(c, len(args)-1)
	s.ks.mget(args[1:], func(val []byte, ok bool) {
		if ok {
			writeBulk(c, val)
		} else {
			c.Write(replyNull)
		}
	})
}

// ping is PING [message]: +PONG, or the message as a bulk string.
func ping(c *transport.Conn, args [][]byte) {
	if len(args) == 2 {
		writeBulk(c, args[1])
		return
	}
	c.Write(replyPong)
}

// selectDB accepts SELECT 0, the only database there is, so that clients
// configured with a database number of 0 work.
func selectDB(c *transport.Conn, args [][]byte) {
	switch n, ok := parseInt(args[1]); {
	case !ok:
		writeError(c, errNotInteger)
	case n != 0:
		writeError(c, "ERR DB index is out of range")
	default:
		c.Write(replyOK)
	}
}

// command answers the COMMAND family just enough for redis-cli: it asks for
// COMMAND DOCS at start to build its hints and falls back to its own built-in
// help on an empty answer.
func command(c *transport.Conn, args [][]byte) {
	switch {
	case len(args) == 1:
		c.Write(replyEmptyArray)
	case equalFold(args[1], "count"):
		writeInt(c, 0)
	case equalFold(args[1], "docs"), equalFold(args[1], "info"), equalFold(args[1], "list"):
		c.Write(replyEmptyArray)
	default:
		writeUnknownSubcommand(c, args[1], "COMMAND")
	}
}

// configValues are the parameters CONFIG GET knows. redis-benchmark asks for
// save and appendonly at start, and warns when it gets no answer.
var configValues = [...]struct{ name, value string }{
	{"save", ""},
	{"appendonly", "no"},
}

// config answers CONFIG GET param... with the pairs for the parameters it knows
// (exact names, no glob patterns); other subcommands are unknown.
func config(c *transport.Conn, args [][]byte) {
	if !equalFold(args[1], "get") {
		writeUnknownSubcommand(c, args[1], "CONFIG")
		return
	}
	if len(args) < 3 {
		writeWrongArity(c, "config|get")
		return
	}
	pairs := 0
	for _, p := range args[2:] {
		for _, v := range configValues {
			if equalFold(p, v.name) {
				pairs++
			}
		}
	}
	writeArrayHeader(c, 2*pairs)
	for _, p := range args[2:] {
		for _, v := range configValues {
			if equalFold(p, v.name) {
				writeBulkString(c, v.name)
				writeBulkString(c, v.value)
			}
		}
	}
}
