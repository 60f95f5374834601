package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
)

// A stream is a test payload: pseudo-random bytes from a seed, written in
// chunks, with a digest that the receiving side compares with its own.

// digest is what one side saw of a stream: its length and SHA-256.
type digest struct {
	n   int64
	sum [sha256.Size]byte
}

func (d digest) String() string { return fmt.Sprintf("%d bytes, sha256 %x", d.n, d.sum[:6]) }

// sendStream writes size pseudo-random bytes from seed to w and returns their
// digest.
func sendStream(w io.Writer, seed uint64, size int64) (digest, error) {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	src := rand.NewChaCha8(s)
	h := sha256.New()
	buf := make([]byte, 128<<10)
	var sent int64
	for sent < size {
		chunk := buf[:min(int64(len(buf)), size-sent)]
		src.Read(chunk)
		h.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			return digest{}, fmt.Errorf("after %d bytes: %w", sent, err)
		}
		sent += int64(len(chunk))
	}
	var d digest
	d.n = sent
	h.Sum(d.sum[:0])
	return d, nil
}

// readStream reads r to EOF and returns the digest of what it read.
func readStream(r io.Reader) (digest, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	d := digest{n: n}
	h.Sum(d.sum[:0])
	return d, err
}

// sendAndClose sends a stream on conn, then shuts conn's writing side.
func sendAndClose(conn *net.TCPConn, seed uint64, size int64) (digest, error) {
	d, err := sendStream(conn, seed, size)
	if err != nil {
		return d, err
	}
	return d, conn.CloseWrite()
}

// echoUpstream serves as an echo server that also reports the digest of what it
// received: it copies every byte back, and shuts its writing side at EOF.
func echoUpstream(received chan<- digest) func(net.Conn) {
	return func(conn net.Conn) {
		h := sha256.New()
		n, err := io.Copy(conn, io.TeeReader(conn, h))
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		d := digest{n: n}
		h.Sum(d.sum[:0])
		if err != nil {
			d.n = -1 // the test reports the mismatch
		}
		if received != nil {
			received <- d
		}
	}
}
