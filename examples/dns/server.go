package main

import (
	"encoding/binary"

	"github.com/sycamore-go/sycamore/transport"
)

// server answers queries for one zone: over UDP as a PacketHandler (each loop
// reads its socket in batches and answers into a buffer of its own, so a query
// allocates nothing), and over TCP, where clients retry an answer that came
// back truncated, as a Handler.
type server struct {
	transport.BaseHandler
	z   *zone
	out [][]byte // a response buffer per loop, by loop ID
}

func newServer(z *zone, loops int) *server {
	s := &server{z: z, out: make([][]byte, loops)}
	for i := range s.out {
		s.out[i] = make([]byte, 0, maxUDPSize)
	}
	return s
}

// OnPacket answers a query; a datagram that is not one gets no answer. A
// datagram cut to MaxPacket is not the query its client sent: it is dropped.
func (s *server) OnPacket(pc *transport.PacketConn, pkt *transport.Packet) {
	if pkt.Truncated {
		return
	}
	id := pc.Loop().ID()
	resp := s.z.respond(pkt.Data, s.out[id])
	if resp == nil {
		return
	}
	s.out[id] = resp[:0]
	pc.Reply(pkt, resp)
}

// OnPacketError: a reply the kernel refused is dropped; the client asks again.
func (s *server) OnPacketError(*transport.PacketConn, error) {}

// OnData answers every whole query of a TCP conn: each is framed by its length
// in two bytes, and so is each answer.
func (s *server) OnData(c *transport.Conn) {
	id := c.Loop().ID()
	for {
		head, err := c.Peek(2)
		if err != nil {
			return // not even the length yet
		}
		n := int(binary.BigEndian.Uint16(head))
		msg, err := c.Peek(2 + n)
		if err != nil {
			return // the rest is on its way
		}
		resp := s.z.respondTCP(msg[2:], s.out[id][:0])
		c.Discard(2 + n)
		if resp == nil {
			c.Close() // not a query: a stream has no way to skip it
			return
		}
		var frame [2]byte
		binary.BigEndian.PutUint16(frame[:], uint16(len(resp)))
		c.Writev([][]byte{frame[:], resp})
		s.out[id] = resp[:0]
	}
}
