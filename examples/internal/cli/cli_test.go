package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/sycamore-go/sycamore/balance"
	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

func TestMain(m *testing.M) { testutil.VerifyMain(m) }

func TestRegisterParsesEveryFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := Register(fs, "127.0.0.1:1", true)
	err := fs.Parse([]string{"-addr", "unix:/tmp/s", "-loops", "3", "-pin", "-balance", "power-of-two",
		"-reuseport", "-workers", "7", "-drain", "2s"})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := f.Options(nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Loops != 3 || !opts.Pin || !opts.ReusePort || opts.Workers != 7 || opts.ShutdownTimeout != 2*time.Second || !opts.Conn.NoDelay {
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
	for _, f := range []Flags{{Balance: "random"}, {Balance: "round-robin", Loops: -1}, {Balance: "round-robin", Workers: -2}} {
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
