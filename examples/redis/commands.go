package main

// commandID names a command for exec's switch. A switch of direct calls, rather
// than a table of functions, lets the compiler see that no command keeps its
// arguments, so OnData's argument array stays on the stack.
type commandID uint8

const (
	cmdGet commandID = iota
	cmdSet
	cmdPing
	cmdIncr
	cmdMSet
	cmdMGet
	cmdDel
	cmdExists
	cmdEcho
	cmdDBSize
	cmdSelect
	cmdCommand
	cmdConfig
	cmdQuit
	cmdPublish
	cmdSubscribe
	cmdUnsubscribe
	cmdPSubscribe
	cmdPUnsubscribe
)

// commandSpec is one command: its lower-case name (as Redis shows it in errors),
// and its arity as Redis counts it (the name included): n means exactly n
// arguments, -n at least n. maxArgs, when set, is an upper bound. pubsub marks
// the commands a conn with subscriptions may still send.
type commandSpec struct {
	name    string
	id      commandID
	arity   int
	maxArgs int
	pubsub  bool
}

// commands lists the commands the server knows, the hottest first, since lookup
// scans it in order.
var commands = [...]commandSpec{
	{name: "get", id: cmdGet, arity: 2},
	{name: "set", id: cmdSet, arity: -3},
	{name: "ping", id: cmdPing, arity: -1, maxArgs: 2, pubsub: true},
	{name: "publish", id: cmdPublish, arity: 3},
	{name: "incr", id: cmdIncr, arity: 2},
	{name: "mset", id: cmdMSet, arity: -3},
	{name: "mget", id: cmdMGet, arity: -2},
	{name: "del", id: cmdDel, arity: -2},
	{name: "exists", id: cmdExists, arity: -2},
	{name: "echo", id: cmdEcho, arity: 2},
	{name: "dbsize", id: cmdDBSize, arity: 1},
	{name: "select", id: cmdSelect, arity: 2},
	{name: "command", id: cmdCommand, arity: -1},
	{name: "config", id: cmdConfig, arity: -2},
	{name: "quit", id: cmdQuit, arity: -1, pubsub: true},
	{name: "subscribe", id: cmdSubscribe, arity: -2, pubsub: true},
	{name: "unsubscribe", id: cmdUnsubscribe, arity: -1, pubsub: true},
	{name: "psubscribe", id: cmdPSubscribe, arity: -2, pubsub: true},
	{name: "punsubscribe", id: cmdPUnsubscribe, arity: -1, pubsub: true},
}

// lookup finds the command named name, in any case, without allocating.
func lookup(name []byte) *commandSpec {
	for i := range commands {
		if equalFold(name, commands[i].name) {
			return &commands[i]
		}
	}
	return nil
}

// arityOK reports whether a call with n arguments (the name included) fits.
func (cmd *commandSpec) arityOK(n int) bool {
	switch {
	case cmd.arity >= 0 && n != cmd.arity:
		return false
	case cmd.arity < 0 && n < -cmd.arity:
		return false
	case cmd.maxArgs > 0 && n > cmd.maxArgs:
		return false
	}
	return true
}

// equalFold reports whether b equals lower, an ASCII lower-case string, ignoring
// the case of b's ASCII letters. It allocates nothing.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
