package shard_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/sycamore-go/sycamore/shard"
	"github.com/sycamore-go/sycamore/transport"
)

// greeter writes its name to every conn and closes it.
type greeter struct {
	transport.BaseHandler
	name string
}

func (g greeter) OnOpen(c *transport.Conn) {
	c.Write([]byte(g.name))
	c.Close()
}

// ask connects to addr and returns what the server said.
func ask(addr string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	return string(b)
}

// A restart hands the listening sockets over: the old engine's ListenerFiles
// go to the new one (here in the same process; across an exec through
// exec.Cmd.ExtraFiles), which serves them while the old one shuts down.
func ExampleEngine_ListenerFiles() {
	quiet := slog.New(slog.DiscardHandler)
	old, _ := shard.New(shard.Options{Loops: 2, Logger: quiet})
	addr, err := old.Listen("tcp", "127.0.0.1:0", greeter{name: "old"})
	if err != nil {
		panic(err)
	}
	old.Start()
	fmt.Println(ask(addr.String()))

	files, err := old.ListenerFiles()
	if err != nil {
		panic(err)
	}
	next, _ := shard.New(shard.Options{Loops: 2, Logger: quiet})
	for _, f := range files {
		if _, err := next.ListenFile(f, greeter{name: "new"}); err != nil {
			panic(err)
		}
		f.Close()
	}
	next.Start()
	old.Shutdown(context.Background())
	fmt.Println(ask(addr.String()))
	next.Close()
	// Output:
	// old
	// new
}

// A socket-activated service serves what systemd passed it.
func ExampleSystemdListeners() {
	files, err := shard.SystemdListeners()
	if err != nil {
		panic(err)
	}
	e, _ := shard.New(shard.Options{})
	for _, f := range files {
		addr, err := e.ListenFile(f, greeter{name: f.Name()})
		f.Close()
		if err != nil {
			panic(err) // not a listening stream socket
		}
		fmt.Println("serving", f.Name(), "on", addr)
	}
	e.Run(context.Background())
}
