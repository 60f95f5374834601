package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/balance"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

func TestMain(m *testing.M) { testutil.VerifyMain(m) }

func TestRegisterParsesEveryFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := Register(fs, "127.0.0.1:1", true)
	err := fs.Parse([]string{"-addr", "unix:/tmp/s", "-loops", "3", "-pin", "-balance", "power-of-two",
		"-reuseport", "-workers", "7", "-drain", "2s", "-idle", "30s", "-wait", "block"})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := f.Options(nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Loops != 3 || !opts.Pin || !opts.ReusePort || opts.Workers != 7 || opts.ShutdownTimeout != 2*time.Second ||
		!opts.Conn.NoDelay || opts.Conn.IdleTimeout != 30*time.Second || opts.Wait != loop.WaitBlock {
		t.Fatalf("options %+v", opts)
	}
	if fmt.Sprint(opts.Balancer) != "power-of-two" {
		t.Fatalf("balancer %v", opts.Balancer)
	}
	if n, a := Network(f.Addr); n != "unix" || a != "/tmp/s" {
		t.Fatalf("Network(%q) = %s %s", f.Addr, n, a)
	}
	if n, a := Network("127.0.0.1:80"); n != "tcp" || a != "127.0.0.1:80" {
		t.Fatalf("Network of a TCP address = %s %s", n, a)
	}
}

func TestWorkersFlagOnlyWhereAsked(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(discard{})
	Register(fs, "127.0.0.1:1", false)
	if err := fs.Parse([]string{"-workers", "3"}); err == nil {
		t.Fatal("-workers accepted by an example without a pool")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestOptionsRejectBadValues(t *testing.T) {
	for _, f := range []Flags{
		{Balance: "random"},
		{Balance: "round-robin", Loops: -1},
		{Balance: "round-robin", Workers: -2},
		{Balance: "round-robin", Wait: "spin"},
		{Balance: "round-robin", Conn: transport.Config{IdleTimeout: -time.Second}},
	} {
		if _, err := f.Options(nil); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
	if _, err := (&Flags{Balance: "random"}).Options(nil); !errors.Is(err, balance.ErrUnknown) {
		t.Errorf("unknown balancer error %v does not wrap balance.ErrUnknown", err)
	}
}

type echo struct{ transport.BaseHandler }

func (echo) OnData(c *transport.Conn) { b, _ := c.Next(-1); c.Write(b) }

func TestServeServesUntilItsContextEnds(t *testing.T) {
	f := &Flags{Addr: "127.0.0.1:0", Loops: 2, Balance: "least-connections", Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *shard.Engine, 1)
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, f, func(*shard.Engine) (transport.Handler, error) { return echo{}, nil },
			func(e *shard.Engine) { ready <- e })
	}()
	e := testutil.Recv(t, ready, 5*time.Second, "the engine")
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hi"))
	got := make([]byte, 2)
	if _, err := c.Read(got); err != nil || string(got) != "hi" {
		t.Fatalf("echo: %q %v", got, err)
	}
	cancel()
	if err := testutil.Recv(t, served, 5*time.Second, "Serve"); err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestServeReportsSetupAndListenErrors(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	boom := errors.New("boom")
	f := &Flags{Addr: "127.0.0.1:0", Loops: 1, Balance: "round-robin", Logger: quiet}
	err := Serve(context.Background(), f, func(*shard.Engine) (transport.Handler, error) { return nil, boom }, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("setup error: %v", err)
	}
	f.Addr = "127.0.0.1:99999"
	if err := Serve(context.Background(), f, func(*shard.Engine) (transport.Handler, error) { return echo{}, nil }, nil); err == nil {
		t.Fatal("Serve on a bad address succeeded")
	}
	f.Addr, f.Balance = "127.0.0.1:0", "nope"
	if err := Serve(context.Background(), f, func(*shard.Engine) (transport.Handler, error) { return echo{}, nil }, nil); err == nil {
		t.Fatal("Serve with a bad balancer succeeded")
	}
}

// The default is no idle timeout, and a negative -idle names the flag in its
// error.
func TestIdleFlagDefaultsToNoneAndRejectsNegative(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := Register(fs, "127.0.0.1:1", false)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if f.Conn.IdleTimeout != 0 {
		t.Fatalf("default idle timeout %v, want 0", f.Conn.IdleTimeout)
	}
	if err := fs.Parse([]string{"-idle", "-1s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Options(nil); err == nil || !strings.Contains(err.Error(), "-idle") {
		t.Fatalf("-idle -1s: error %v, want one about -idle", err)
	}
}

// A conn that stays quiet longer than -idle is closed by the server; one that
// keeps talking, more often than -idle, stays open all along and after.
func TestIdleFlagClosesQuietConnsOnly(t *testing.T) {
	// idle leaves the talking conn, which talks every idle/10, a margin of 450 ms
	// for a stalled goroutine on a loaded machine.
	const idle = 500 * time.Millisecond
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := Register(fs, "127.0.0.1:0", false)
	if err := fs.Parse([]string{"-idle", idle.String(), "-loops", "1"}); err != nil {
		t.Fatal(err)
	}
	f.Logger = slog.New(slog.DiscardHandler)
	e := serveEcho(t, f)
	quiet, talking := dialEngine(t, e), dialEngine(t, e)
	opened := time.Now()
	closed := make(chan error, 1)
	go func() {
		_, err := quiet.Read(make([]byte, 1))
		closed <- err
	}()
	talk := func() {
		t.Helper()
		got := make([]byte, 2)
		if _, err := talking.Write([]byte("hi")); err != nil {
			t.Fatalf("the talking conn: write: %v", err)
		}
		if _, err := io.ReadFull(talking, got); err != nil || string(got) != "hi" {
			t.Fatalf("the talking conn: echo %q, %v", got, err)
		}
	}
	ticker := time.NewTicker(idle / 10)
	defer ticker.Stop()
	giveUp := time.After(idle + 5*time.Second)
	var quietFor time.Duration
	for quietFor == 0 {
		select {
		case <-giveUp:
			t.Fatalf("the quiet conn is still open after %v; -idle is %v", time.Since(opened), idle)
		case err := <-closed:
			quietFor = time.Since(opened)
			if !errors.Is(err, io.EOF) {
				t.Fatalf("the quiet conn: read %v, want EOF (closed by the server)", err)
			}
		case <-ticker.C:
			talk()
		}
	}
	if quietFor < idle/2 {
		t.Fatalf("the quiet conn closed after %v, before the %v idle timeout", quietFor, idle)
	}
	// Talk on for two more idle timeouts: the talking conn is never closed.
	for until := time.Now().Add(2 * idle); time.Now().Before(until); {
		<-ticker.C
		talk()
	}
}

// serveEcho serves echo with f through Serve; when the test ends it cancels the
// server and waits (bounded) for Serve to return.
func serveEcho(t *testing.T, f *Flags) *shard.Engine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *shard.Engine, 1)
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, f, func(*shard.Engine) (transport.Handler, error) { return echo{}, nil },
			func(e *shard.Engine) { ready <- e })
	}()
	t.Cleanup(func() {
		cancel()
		if err := testutil.Recv(t, served, 10*time.Second, "Serve"); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return testutil.Recv(t, ready, 10*time.Second, "the engine")
}

// dialEngine connects to e with a 10 s deadline on everything; the conn is
// closed when the test ends.
func dialEngine(t *testing.T, e *shard.Engine) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}
