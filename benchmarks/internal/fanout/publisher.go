package fanout

import (
	"context"
	"fmt"
	"net"
	"time"
)

// publisher is a conn that publishes one sequence of messages, depth PUBLISH
// commands in each write.
type publisher struct {
	conn net.Conn
	rd   *respReader
	// batch holds depth PUBLISH commands of size bytes each; only the
	// sequence numbers change from one write to the next.
	batch       []byte
	size, depth int
	seq         uint64 // the next message's sequence number
}

func dialPublisher(ctx context.Context, addr string, id int, channel []byte, depth int) (*publisher, error) {
	c, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	one := command([]byte("PUBLISH"), channel, newMessage(id, 0))
	p := &publisher{conn: c, rd: newRESPReader(c), size: len(one), depth: depth}
	for range depth {
		p.batch = append(p.batch, one...)
	}
	return p, nil
}

// publish writes batches until the clock passes until, reading each batch's
// replies before writing the next, and returns the replies read. Each reply
// counts the subscribers the message reached; fewer than minReceivers (the
// reading subscribers) is ErrReaderDropped.
func (p *publisher) publish(until time.Time, minReceivers int64) (int64, error) {
	// The message is the last bulk string of each command, before its \r\n.
	msgAt := p.size - MessageSize - 2
	var replies int64
	for time.Now().Before(until) {
		for i := range p.depth {
			putSeq(p.batch[i*p.size+msgAt:], p.seq+uint64(i))
		}
		p.conn.SetDeadline(time.Now().Add(replyTimeout))
		if _, err := p.conn.Write(p.batch); err != nil {
			return replies, err
		}
		for range p.depth {
			n, err := p.rd.header(':')
			if err != nil {
				return replies, fmt.Errorf("PUBLISH: %w", err)
			}
			if n < minReceivers {
				return replies, fmt.Errorf("%w: PUBLISH reached %d subscribers, fewer than the %d reading ones",
					ErrReaderDropped, n, minReceivers)
			}
			replies++
		}
		p.seq += uint64(p.depth)
	}
	return replies, nil
}
