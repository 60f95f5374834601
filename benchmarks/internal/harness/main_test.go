package harness

import (
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

// helperEnv, when set in the environment, makes the test binary a tiny
// server for Start to run instead of a test run; its value picks the
// behaviour (see helperServer).
const helperEnv = "HARNESS_TEST_HELPER"

// TestMain fails the run if a test leaves a goroutine or an fd behind: a
// server that Stop did not reap, a wrk pipe, a log file.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helperServer(mode, os.Getenv("HARNESS_TEST_ADDR"))
		return
	}
	testutil.VerifyMain(m)
}

// helperServer listens on addr and accepts connections until SIGTERM (mode
// "serve") or forever, ignoring SIGTERM (mode "ignore-term"); in mode "udp"
// it binds a UDP socket to addr and reads nothing until SIGTERM.
func helperServer(mode, addr string) {
	if mode == "ignore-term" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		go func() {
			c := make(chan os.Signal, 1)
			signal.Notify(c, syscall.SIGTERM)
			<-c
			os.Exit(0)
		}()
	}
	if mode == "udp" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		heldUDP = pc
		select {}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		heldConns = append(heldConns, c)
	}
}

// heldConns keeps the helper server's conns referenced, so the GC never closes
// them: they stay open until the process ends.
var heldConns []net.Conn

// heldUDP keeps the helper server's UDP socket referenced, for the same reason.
var heldUDP net.PacketConn

// helper returns a Server that runs this test binary as helperServer.
func helper(mode string) Server {
	return Server{
		Name: "helper " + mode,
		Kind: "echo",
		Args: []string{os.Args[0]},
		Env:  []string{helperEnv + "=" + mode, "HARNESS_TEST_ADDR={addr}"},
	}
}
