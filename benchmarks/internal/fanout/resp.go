package fanout

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// respReader reads the part of RESP2 that the fan-out clients meet: integers
// (PUBLISH's reply), arrays of bulk strings and integers (SUBSCRIBE's reply
// and the pushed messages) and errors. It reads through a bufio.Reader and
// hands out slices of its buffer, so a message costs no allocation; a slice
// is valid until the next call.
type respReader struct {
	br *bufio.Reader
}

// readBufferSize is the bufio buffer of every conn: 16 KiB takes about 170
// pushed messages of 64 bytes in one read(2), and 1,000 subscribers hold
// 16 MiB of them.
const readBufferSize = 16 << 10

func newRESPReader(r io.Reader) *respReader {
	return &respReader{br: bufio.NewReaderSize(r, readBufferSize)}
}

// line returns the next line without its \r\n.
func (r *respReader) line() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, fmt.Errorf("%w: a line longer than %d bytes", ErrProtocol, readBufferSize)
		}
		return nil, err
	}
	if len(b) < 2 || b[len(b)-2] != '\r' {
		return nil, fmt.Errorf("%w: line %q does not end in \\r\\n", ErrProtocol, b)
	}
	return b[:len(b)-2], nil
}

// header reads a line of type kind ('*' array, '$' bulk string, ':' integer)
// and returns its number. An error reply ("-ERR ...") is ErrServerReply,
// quoted.
func (r *respReader) header(kind byte) (int64, error) {
	b, err := r.line()
	if err != nil {
		return 0, err
	}
	if len(b) > 0 && b[0] == '-' {
		return 0, fmt.Errorf("%w: %q", ErrServerReply, b[1:])
	}
	if len(b) < 2 || b[0] != kind {
		return 0, fmt.Errorf("%w: got %q, want a line starting with %q", ErrProtocol, b, kind)
	}
	digits, sign := b[1:], int64(1)
	if digits[0] == '-' {
		digits, sign = digits[1:], -1
	}
	// 18 digits cannot overflow an int64; no reply here comes near.
	n, ok := parseDigits(digits)
	if !ok || len(digits) > 18 {
		return 0, fmt.Errorf("%w: got %q, want a number after %q", ErrProtocol, b, kind)
	}
	return sign * int64(n), nil
}

// bulk reads a bulk string: $<n>\r\n, n bytes, \r\n.
func (r *respReader) bulk() ([]byte, error) {
	n, err := r.header('$')
	if err != nil {
		return nil, err
	}
	if n < 0 || n > readBufferSize-2 {
		return nil, fmt.Errorf("%w: bulk string of %d bytes", ErrProtocol, n)
	}
	b, err := r.br.Peek(int(n) + 2)
	if err != nil {
		return nil, err
	}
	if b[n] != '\r' || b[n+1] != '\n' {
		return nil, fmt.Errorf("%w: bulk string %q does not end in \\r\\n", ErrProtocol, b)
	}
	// Discard of what Peek returned only moves the read index: b stays
	// valid until the next read fills the buffer.
	r.br.Discard(len(b))
	return b[:n], nil
}

// expectBulk reads a bulk string and fails unless it is want.
func (r *respReader) expectBulk(want []byte) error {
	b, err := r.bulk()
	if err != nil {
		return err
	}
	if !bytes.Equal(b, want) {
		return fmt.Errorf("%w: got %q, want %q", ErrProtocol, b, want)
	}
	return nil
}

// pushed reads one array of three pushed to a subscriber: kind, channel, then
// (the last element read by the caller) the message or the count of
// subscriptions.
func (r *respReader) pushed(kind, channel []byte) error {
	n, err := r.header('*')
	if err != nil {
		return err
	}
	if n != 3 {
		return fmt.Errorf("%w: an array of %d, want 3 (%s)", ErrProtocol, n, kind)
	}
	if err := r.expectBulk(kind); err != nil {
		return err
	}
	return r.expectBulk(channel)
}

// subscribed reads SUBSCRIBE's reply: *3, subscribe, the channel, :count.
func (r *respReader) subscribed(channel []byte) error {
	if err := r.pushed(kindSubscribe, channel); err != nil {
		return err
	}
	_, err := r.header(':')
	return err
}

// message reads one pushed message on channel: *3, message, the channel,
// the message; it returns the message's publisher and sequence number.
func (r *respReader) message(channel []byte) (id int, seq uint64, err error) {
	if err := r.pushed(kindMessage, channel); err != nil {
		return 0, 0, err
	}
	m, err := r.bulk()
	if err != nil {
		return 0, 0, err
	}
	return parseMessage(m)
}

// The kinds of pushed arrays, their first element.
var (
	kindSubscribe = []byte("subscribe")
	kindMessage   = []byte("message")
)
