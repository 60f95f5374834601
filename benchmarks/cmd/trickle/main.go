// Command trickle measures what a big command that arrives slowly costs a RESP
// server and its other clients. It starts the server binary given (with -addr
// and -loops 1), sends one MSET of -pairs one-byte keys and values (1,000,001
// arguments, 7,000,020 bytes by default) in -piece byte writes every -every,
// PINGs every 5 ms from a second conn meanwhile, and prints the server's CPU
// time (from /proc/PID/stat) and the PINGs' median and slowest round trips.
//
//	go build -o /tmp/redis ../examples/redis && go run ./cmd/trickle -server /tmp/redis
//	go run ./cmd/trickle -server /tmp/redis -every 0     # the command in one write
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sycamore-go/sycamore/benchmarks/internal/harness"
)

func main() {
	server := flag.String("server", "", "the RESP server binary (it takes -addr and -loops)")
	pairs := flag.Int("pairs", 500000, "key-value pairs in the MSET")
	piece := flag.Int("piece", 16<<10, "bytes per write")
	every := flag.Duration("every", 10*time.Millisecond, "pause between writes (0: one write)")
	flag.Parse()
	if err := run(*server, *pairs, *piece, *every); err != nil {
		fmt.Fprintln(os.Stderr, "trickle:", err)
		os.Exit(1)
	}
}

func run(server string, pairs, piece int, every time.Duration) error {
	if server == "" {
		return errors.New("-server is required")
	}
	proc, err := harness.Start(context.Background(), harness.Server{Name: "server", Kind: "resp",
		Args: []string{server, "-addr", "{addr}", "-loops", "1"}})
	if err != nil {
		return err
	}
	defer proc.Stop()
	big, err := net.Dial("tcp", proc.Addr)
	if err != nil {
		return err
	}
	defer big.Close()
	pinger, err := net.Dial("tcp", proc.Addr)
	if err != nil {
		return err
	}
	defer pinger.Close()
	before, err := proc.CPU()
	if err != nil {
		return err
	}
	msg := mset(pairs)
	stop, pings := make(chan struct{}), make(chan []time.Duration)
	go ping(pinger, stop, pings)
	if every == 0 {
		piece = len(msg)
	}
	for sent := 0; sent < len(msg); sent += piece {
		if sent > 0 {
			time.Sleep(every)
		}
		if _, err := big.Write(msg[sent:min(sent+piece, len(msg))]); err != nil {
			return err
		}
	}
	big.SetReadDeadline(time.Now().Add(time.Minute))
	reply, err := bufio.NewReader(big).ReadString('\n')
	if err != nil || reply != "+OK\r\n" {
		return fmt.Errorf("MSET reply %q, %v", reply, err)
	}
	close(stop)
	rtts := <-pings
	after, err := proc.CPU()
	if err != nil {
		return err
	}
	slices.Sort(rtts)
	fmt.Printf("MSET of %d bytes in %d-byte writes every %v: server CPU %v; %d PINGs meanwhile, median %v, slowest %v\n",
		len(msg), piece, every, (after - before).Round(time.Millisecond), len(rtts),
		rtts[len(rtts)/2].Round(time.Microsecond), rtts[len(rtts)-1].Round(time.Microsecond))
	return nil
}

// mset encodes MSET k v k v ... with one-byte keys and values.
func mset(pairs int) []byte {
	var b bytes.Buffer
	b.WriteString("*" + strconv.Itoa(1+2*pairs) + "\r\n$4\r\nMSET\r\n")
	b.WriteString(strings.Repeat("$1\r\nk\r\n$1\r\nv\r\n", pairs))
	return b.Bytes()
}

// ping sends PING every 5 ms until stop and sends back the round trips.
func ping(c net.Conn, stop <-chan struct{}, out chan<- []time.Duration) {
	var rtts []time.Duration
	r := bufio.NewReader(c)
	defer func() { out <- rtts }()
	for {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		start := time.Now()
		c.SetDeadline(start.Add(10 * time.Second))
		if _, err := io.WriteString(c, "PING\r\n"); err != nil {
			return
		}
		if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
			return
		}
		rtts = append(rtts, time.Since(start))
	}
}
