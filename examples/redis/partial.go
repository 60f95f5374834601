package main

// partial is what a conn keeps between OnData calls while a command has not
// fully arrived: the parser's state and the spans of the arguments parsed so
// far. The command's bytes stay unread in the transport's buffer meanwhile,
// and come back with the new ones at the next OnData.
//
// A conn gets one the first time it leaves a command incomplete, in its
// Context, and keeps it; a conn whose commands always arrive whole never has
// one.
type partial struct {
	req   request
	spans []span
}

// keptSpans is the most spans a partial keeps room for once its command has
// run: an MSET of a million arguments leaves 16 MiB of spans, which go back to
// the garbage collector rather than stay with the conn.
const keptSpans = 1024

// readCommand parses the command at the start of buf, a conn's unread bytes,
// with the outcomes of request.parse, and returns its arguments (appended to
// argv) rather than their spans. *kept is the conn's partial, or nil if it has
// none: a command it holds is resumed, and a new command that is not complete
// is saved there, in a partial made for it if *kept is nil. spanv is scratch
// room for the spans of a new command, so that a command of up to cap(spanv)
// arguments that arrives whole allocates nothing.
func readCommand(buf []byte, kept **partial, spanv []span, argv [][]byte) ([][]byte, int, error) {
	if p := *kept; p != nil && p.req != (request{}) {
		return p.resume(buf, argv)
	}
	var req request
	spans, n, err := req.parse(buf, spanv)
	switch {
	case err != nil:
		return nil, 0, err
	case n > 0:
		return argsOf(buf, spans, argv), n, nil
	case req == request{}:
		return nil, 0, nil // no bytes at all
	}
	// Keep what was parsed, copying the spans out of the caller's scratch room.
	if *kept == nil {
		*kept = new(partial)
	}
	p := *kept
	p.req, p.spans = req, append(p.spans[:0], spans...)
	return nil, 0, nil
}

// resume continues p's command with buf, which holds the bytes p has seen
// and those that have arrived since.
func (p *partial) resume(buf []byte, argv [][]byte) ([][]byte, int, error) {
	var n int
	var err error
	p.spans, n, err = p.req.parse(buf, p.spans)
	if n == 0 {
		return nil, 0, err
	}
	args := argsOf(buf, p.spans, argv)
	p.spans = p.spans[:0]
	if cap(p.spans) > keptSpans {
		p.spans = nil
	}
	return args, n, nil
}
