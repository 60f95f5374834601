package main

import (
	"strconv"

	"github.com/sycamore-go/sycamore/transport"
)

// Fixed replies, written as they are.
var (
	replyOK         = []byte("+OK\r\n")
	replyPong       = []byte("+PONG\r\n")
	replyNull       = []byte("$-1\r\n")
	replyEmptyArray = []byte("*0\r\n")
	crlf            = []byte("\r\n")
)

// errSyntax is Redis's answer to an option it does not know.
const errSyntax = "ERR syntax error"

// Each writer below queues one reply with c.Write or c.Writev; the transport
// copies the bytes into the connection's output queue, so the stack buffers they
// build in are free again when they return.

// writeBulk queues a bulk string: "$<len>\r\n<bytes>\r\n".
func writeBulk(c *transport.Conn, val []byte) {
	var head [24]byte
	h := append(head[:0], '$')
	h = strconv.AppendInt(h, int64(len(val)), 10)
	h = append(h, '\r', '\n')
	bufs := [3][]byte{h, val, crlf}
	c.Writev(bufs[:])
}

// writeBulkString is writeBulk for a constant.
func writeBulkString(c *transport.Conn, val string) {
	var b [64]byte
	writeBulk(c, append(b[:0], val...))
}

// writeInt queues an integer reply: ":<n>\r\n".
func writeInt(c *transport.Conn, n int64) {
	writePrefixed(c, ':', n)
}

// writeArrayHeader queues the header of an array of n elements: "*<n>\r\n".
func writeArrayHeader(c *transport.Conn, n int) {
	writePrefixed(c, '*', int64(n))
}

func writePrefixed(c *transport.Conn, prefix byte, n int64) {
	var b [24]byte
	out := append(b[:0], prefix)
	out = strconv.AppendInt(out, n, 10)
	out = append(out, '\r', '\n')
	c.Write(out)
}

// writeError queues an error reply: "-<text>\r\n". text must not hold '\r' or
// '\n'.
func writeError(c *transport.Conn, text string) {
	var b [128]byte
	out := append(b[:0], '-')
	out = append(out, text...)
	out = append(out, '\r', '\n')
	c.Write(out)
}

// writeProtocolError queues "-ERR Protocol error: <err>".
func writeProtocolError(c *transport.Conn, err error) {
	writeError(c, "ERR Protocol error: "+err.Error())
}

// writeWrongArity queues Redis's wrong-arity error for the command name.
func writeWrongArity(c *transport.Conn, name string) {
	writeError(c, "ERR wrong number of arguments for '"+name+"' command")
}

// writeNotInSubscribedMode queues Redis 7's refusal of a command a conn with
// subscriptions may not send.
func writeNotInSubscribedMode(c *transport.Conn, name string) {
	writeError(c, "ERR Can't execute '"+name+"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
}

// quotedBudget is how many bytes of a client's own words an error quotes back, as
// Redis does: enough to recognise them, not enough to make a huge reply.
const quotedBudget = 128

// writeUnknownCommand queues Redis 7's answer to an unknown command:
// "-ERR unknown command 'name', with args beginning with: 'a' 'b' ".
func writeUnknownCommand(c *transport.Conn, args [][]byte) {
	var b [512]byte
	out := append(b[:0], "-ERR unknown command '"...)
	out = appendSanitized(out, args[0], quotedBudget)
	out = append(out, "', with args beginning with: "...)
	budget := quotedBudget
	for _, a := range args[1:] {
		if budget <= 0 {
			break
		}
		n := min(len(a), budget)
		out = append(out, '\'')
		out = appendSanitized(out, a, n)
		out = append(out, "' "...)
		budget -= n + 3
	}
	out = append(out, '\r', '\n')
	c.Write(out)
}

// writeUnknownSubcommand queues "-ERR unknown subcommand 'sub'. Try CMD HELP.".
func writeUnknownSubcommand(c *transport.Conn, sub []byte, cmd string) {
	var b [256]byte
	out := append(b[:0], "-ERR unknown subcommand '"...)
	out = appendSanitized(out, sub, quotedBudget)
	out = append(out, "'. Try "...)
	out = append(out, cmd...)
	out = append(out, " HELP.\r\n"...)
	c.Write(out)
}

// appendSanitized appends at most limit bytes of word, with every control byte
// replaced by a space: a '\r' or '\n' quoted back into an error line would end
// the reply early and let the client forge the next one.
func appendSanitized(out, word []byte, limit int) []byte {
	for _, ch := range word[:min(len(word), limit)] {
		if ch < ' ' || ch == 0x7f {
			ch = ' '
		}
		out = append(out, ch)
	}
	return out
}
