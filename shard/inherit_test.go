package shard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/atomic"

	"github.com/sycamore-go/sycamore/internal/testutil"
	"github.com/sycamore-go/sycamore/transport"
)

// tcpListenerFile opens a loopback *net.TCPListener and returns its address and
// a File of its socket; both are closed when the test ends.
func tcpListenerFile(t testing.TB) (string, *os.File) {
	t.Helper()
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nl.Close() })
	f, err := nl.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return nl.Addr().String(), f
}

func TestListenFileServesEchoAfterTheCallerClosesTheFile(t *testing.T) {
	e := newEngine(t, Options{Loops: 2})
	addr, f := tcpListenerFile(t)
	got, err := e.ListenFile(f, echo{})
	if err != nil {
		t.Fatalf("ListenFile: %v", err)
	}
	f.Close() // the engine serves its own copy
	if got.String() != addr {
		t.Errorf("ListenFile returned %v, want %v", got, addr)
	}
	if addrs := e.Addrs(); len(addrs) != 1 || addrs[0].String() != addr {
		t.Errorf("Addrs %v, want [%v]", addrs, addr)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		roundTrip(t, dial(t, "tcp", addr), []byte("through an inherited socket"))
	}
}

func TestListenListenerServesTCPAndUnixListenersOfPackageNet(t *testing.T) {
	e := newEngine(t, Options{Loops: 2})
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	path := filepath.Join(t.TempDir(), "net.sock")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	for _, l := range []net.Listener{tl, ul} {
		if _, err := e.ListenListener(l, echo{}); err != nil {
			t.Fatalf("ListenListener(%T): %v", l, err)
		}
	}
	// The caller may close its TCP listener at once: the engine has a copy.
	tl.Close()
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, dial(t, "tcp", tl.Addr().String()), []byte("through a net.TCPListener's socket"))
	roundTrip(t, dial(t, "unix", path), []byte("through a net.UnixListener's socket"))
}

// socketless is a net.Listener with no socket behind it.
type socketless struct{ net.Listener }

func TestListenFileAndListenListenerRefuseWhatTheyCannotServe(t *testing.T) {
	e := newEngine(t, Options{Loops: 1})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	f, err := pc.(*net.UDPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := e.ListenFile(f, echo{}); !errors.Is(err, transport.ErrNotListener) {
		t.Errorf("ListenFile of a UDP socket: %v; want transport.ErrNotListener", err)
	}
	if _, err := e.ListenListener(socketless{}, echo{}); err == nil || !strings.Contains(err.Error(), "no socket") {
		t.Errorf("ListenListener of a socketless listener: %v; want an error saying it has no socket", err)
	}
	if _, err := e.ListenFile(f, nil); err == nil {
		t.Error("ListenFile with a nil Handler succeeded")
	}
	if addrs := e.Addrs(); len(addrs) != 0 {
		t.Errorf("Addrs %v after refused listens, want none", addrs)
	}
}

func TestListenerFilesAreNamedAndOrderedAsListenOpenedThem(t *testing.T) {
	e := newEngine(t, Options{Loops: 2, ReusePort: true})
	tcp, err := e.Listen("tcp", "127.0.0.1:0", echo{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "files.sock")
	if _, err := e.Listen("unix", path, echo{}); err != nil {
		t.Fatal(err)
	}
	files, err := e.ListenerFiles()
	if err != nil {
		t.Fatalf("ListenerFiles: %v", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
		f.Close()
	}
	// ReusePort: one SO_REUSEPORT socket per loop for the TCP address; the unix
	// socket goes through the acceptor.
	want := []string{"tcp:" + tcp.String(), "tcp:" + tcp.String(), "unix:" + path}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("ListenerFiles named %v, want %v", names, want)
	}
	// Handing the unix socket on keeps its path when the engine closes: the
	// receiver serves it.
	e.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the engine removed a unix socket path it had handed on: %v", err)
	}
	if _, err := e.ListenerFiles(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ListenerFiles after Close: %v; want ErrClosed", err)
	}
}

func TestListenFileWithReusePortServesOneSocketThroughTheAcceptor(t *testing.T) {
	e := newEngine(t, Options{Loops: 2, ReusePort: true})
	addr, f := tcpListenerFile(t)
	if _, err := e.ListenFile(f, echo{}); err != nil {
		t.Fatalf("ListenFile: %v", err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	files, err := e.ListenerFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		f.Close()
	}
	if len(files) != 1 {
		t.Errorf("ListenerFiles gave %d files for one inherited socket, want 1", len(files))
	}
	for range 4 {
		roundTrip(t, dial(t, "tcp", addr), []byte("one socket, two loops"))
	}
}

// servedEcho echoes and counts the conns it served. A conn counts as busy for
// Shutdown until its first bytes are echoed: a client that connected during the
// hand-over is served, not closed unanswered as idle.
type servedEcho struct {
	transport.BaseHandler
	served atomic.Int64
}

func (h *servedEcho) OnData(c *transport.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
	if c.Context() == nil {
		c.SetContext(true)
		h.served.Inc()
	}
}

func (h *servedEcho) Busy(c *transport.Conn) bool { return c.Context() == nil }

// handOverClients is how many goroutines connect during a hand-over, and
// handOverCap bounds how many conns each makes in all.
const (
	handOverClients = 4
	handOverCap     = 5000
)

// connectUntilStopped runs handOverClients goroutines that each connect to
// addr, round-trip a message and close, again and again until stop closes (or
// handOverCap conns). It returns the first failure: a refused connect, a reset,
// or a conn closed before its echo.
func connectUntilStopped(addr string, stop <-chan struct{}) error {
	var wg sync.WaitGroup
	errs := make(chan error, handOverClients)
	for g := range handOverClients {
		wg.Go(func() {
			for i := range handOverCap {
				select {
				case <-stop:
					return
				default:
				}
				if err := echoOnce(addr, fmt.Sprintf("client %d conn %d", g, i)); err != nil {
					errs <- fmt.Errorf("client %d conn %d: %w", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// echoOnce connects, sends msg and expects it back.
func echoOnce(addr, msg string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read of the echo: %w", err)
	}
	if string(got) != msg {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// TestHandOverToASecondEngineRefusesNoClient is the hand-over of a restart,
// inside one process: the first engine's ListenerFiles go to a second engine,
// which serves them while the first shuts down, and clients connecting all the
// while are each served by one or the other.
func TestHandOverToASecondEngineRefusesNoClient(t *testing.T) {
	for _, reusePort := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReusePort=%v", reusePort), func(t *testing.T) {
			first := newEngine(t, Options{Loops: 2, ReusePort: reusePort})
			old := &servedEcho{}
			addr := serve(t, first, old)
			files, err := first.ListenerFiles()
			if err != nil {
				t.Fatalf("ListenerFiles: %v", err)
			}
			if want := map[bool]int{false: 1, true: 2}[reusePort]; len(files) != want {
				t.Errorf("ListenerFiles gave %d files, want %d", len(files), want)
			}
			second := newEngine(t, Options{Loops: 2})
			next := &servedEcho{}
			for _, f := range files {
				_, err := second.ListenFile(f, next)
				f.Close()
				if err != nil {
					t.Fatalf("second engine's ListenFile(%s): %v", f.Name(), err)
				}
			}

			stop := make(chan struct{})
			clients := make(chan error, 1)
			go func() { clients <- connectUntilStopped(addr, stop) }()
			stopClients := func() error {
				close(stop)
				return testutil.Recv(t, clients, 30*time.Second, "the clients to stop")
			}
			defer func() {
				select {
				case <-stop:
				default:
					stopClients()
				}
			}()
			// waitServed waits until h has served n conns, failing at once
			// if a client failed meanwhile.
			waitServed := func(h *servedEcho, n int64, what string) {
				t.Helper()
				testutil.Eventually(t, 10*time.Second, func() bool {
					select {
					case err := <-clients:
						close(stop)
						t.Fatalf("a client failed before %s: %v", what, err)
					default:
					}
					return h.served.Load() >= n
				}, "%s", what)
			}
			waitServed(old, 20, "the first engine served 20 conns")
			if err := second.Start(); err != nil {
				t.Fatalf("second Start: %v", err)
			}
			if err := shutdownWithin(first, 10*time.Second); err != nil {
				t.Fatalf("first Shutdown: %v", err)
			}
			after := next.served.Load()
			waitServed(next, after+20, "the second engine served 20 conns after the first shut down")
			if err := stopClients(); err != nil {
				t.Fatalf("a client was not served during the hand-over: %v", err)
			}
			t.Logf("the first engine served %d conns, the second %d", old.served.Load(), next.served.Load())
		})
	}
}
