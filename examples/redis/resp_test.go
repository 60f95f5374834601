package main

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// parseCommand parses the command at the start of buf from its first byte, as
// the server does a command that arrives whole, and appends its arguments to
// args; for part of a command or an error it appends none.
func parseCommand(buf []byte, args [][]byte) ([][]byte, int, error) {
	var req request
	spans, n, err := req.parse(buf, nil)
	if n == 0 {
		return args, 0, err
	}
	return argsOf(buf, spans, args), n, nil
}

// TestParseCommandSplitsArgumentsAndCountsBytes covers each request form and
// what follows a command in the buffer (left for the next call).
func TestParseCommandSplitsArgumentsAndCountsBytes(t *testing.T) {
	cases := []struct {
		in       string
		args     string // joined with "|"
		consumed int
	}{
		{mb("GET", "k"), "GET|k", len(mb("GET", "k"))},
		{mb("SET", "k", "a\r\nb") + "PING\r\n", "SET|k|a\r\nb", len(mb("SET", "k", "a\r\nb"))},
		{mb("SET", "", ""), "SET||", len(mb("SET", "", ""))},
		{"*0\r\n", "", 4},
		{"*-1\r\nPING\r\n", "", 5},
		{"PING\r\n", "PING", 6},
		{"PING\n", "PING", 5},
		{"  SET \t k   v  \r\nGET k\r\n", "SET|k|v", 17},
		{"\r\n", "", 2},
		{"\n", "", 1},
		{"$3\r\n", "$3", 4}, // not '*': an inline command named "$3"
	}
	for _, tc := range cases {
		args, n, err := parseCommand([]byte(tc.in), nil)
		if err != nil || n != tc.consumed || argsString(args) != tc.args {
			t.Errorf("parseCommand(%q) = %q, %d, %v; want %q, %d, nil", tc.in, argsString(args), n, err, tc.args, tc.consumed)
		}
	}
}

// TestParseCommandWaitsOnEveryPrefix: every strict prefix of a valid command is
// "need more", never an error and never a shorter command.
func TestParseCommandWaitsOnEveryPrefix(t *testing.T) {
	commands := []string{
		mb("SET", "key", "value"),
		mb("MSET", "a", "", "b", strings.Repeat("x", 300)),
		"*0\r\n",
		"PING\r\n",
		"SET k v\n",
		"\r\n",
	}
	for _, cmd := range commands {
		for i := range len(cmd) {
			args, n, err := parseCommand([]byte(cmd[:i]), nil)
			if n != 0 || err != nil || len(args) != 0 {
				t.Errorf("prefix %q of %q: got %q, %d, %v; want need-more", cmd[:i], cmd, argsString(args), n, err)
			}
		}
	}
}

// TestParseCommandRejectsMalformedRequests lists each protocol error.
func TestParseCommandRejectsMalformedRequests(t *testing.T) {
	long := strings.Repeat("9", maxLineLen+1)
	cases := []struct {
		in   string
		want error // nil: compare the text in wantText
		text string
	}{
		{"*x\r\n", errMultibulkLength, ""},
		{"*1048577\r\n", errMultibulkLength, ""},
		{"*01\r\n", errMultibulkLength, ""},
		{"*\r\n", errMultibulkLength, ""},
		{"*1\r\n$\r\n", errBulkLength, ""},
		{"*1\r\n$-1\r\n", errBulkLength, ""},
		{"*1\r\n$" + strconv.Itoa(maxBulkLen+1) + "\r\n", errBulkLength, ""},
		{"*1\r\n$99999999999999999999999\r\n", errBulkLength, ""},
		{"*1\r\n:1\r\n", nil, "expected '$', got ':'"},
		{"*1\r\n\xff", nil, "expected '$', got byte 0xff"},
		{"*1\r\n$1\r\nab\r\n", errMissingCRLF, ""},
		{"*1\r\n$1\r\na\n\r", errMissingCRLF, ""},
		{"*1\n", nil, ""}, // no '\r' yet: waits (Redis waits too)
		{"*1\r\r", errMissingCRLF, ""},
		{"*" + long, errMultibulkLine, ""},
		{"*1\r\n$" + long, errBulkLine, ""},
		{strings.Repeat(" ", maxLineLen+1), errInlineTooBig, ""},
	}
	for _, tc := range cases {
		_, n, err := parseCommand([]byte(tc.in), nil)
		switch {
		case n != 0:
			t.Errorf("parseCommand(%q) consumed %d, want 0", clip(tc.in), n)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("parseCommand(%q) error %v, want %v", clip(tc.in), err, tc.want)
		case tc.want == nil && tc.text == "" && err != nil:
			t.Errorf("parseCommand(%q) error %v, want need-more", clip(tc.in), err)
		case tc.want == nil && tc.text != "" && (err == nil || err.Error() != tc.text):
			t.Errorf("parseCommand(%q) error %v, want %q", clip(tc.in), err, tc.text)
		}
	}
}

// TestParseCommandAcceptsTheLimits: a line of exactly maxLineLen bytes and the
// largest multibulk count are still valid.
func TestParseCommandAcceptsTheLimits(t *testing.T) {
	line := strings.Repeat("a", maxLineLen) + "\n"
	if args, n, err := parseCommand([]byte(line), nil); err != nil || n != len(line) || len(args) != 1 {
		t.Errorf("inline line of %d bytes: %d args, %d consumed, %v", maxLineLen, len(args), n, err)
	}
	count := "*" + strconv.Itoa(maxArgs) + "\r\n"
	if _, n, err := parseCommand([]byte(count+"$1\r\na\r\n"), nil); err != nil || n != 0 {
		t.Errorf("multibulk of %d elements, first only: %d consumed, %v; want need-more", maxArgs, n, err)
	}
}

// TestParseIntFollowsRedis compares parseInt with Redis's string2ll rules.
func TestParseIntFollowsRedis(t *testing.T) {
	cases := []struct {
		in string
		n  int64
		ok bool
	}{
		{"0", 0, true}, {"7", 7, true}, {"-7", -7, true}, {"1234567890", 1234567890, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"18446744073709551616", 0, false}, {"99999999999999999999", 0, false},
		{"", 0, false}, {"-", 0, false}, {"-0", 0, false}, {"00", 0, false}, {"01", 0, false},
		{"+1", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1a", 0, false}, {"1.0", 0, false},
	}
	for _, tc := range cases {
		n, ok := parseInt([]byte(tc.in))
		if n != tc.n || ok != tc.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.ok)
		}
	}
}

// FuzzRESP feeds arbitrary bytes to the parser: it never panics, never
// consumes more than it was given, returns exactly one of command, need-more or
// error, and what it parses survives a round trip through the multibulk
// encoding. Seeds are below and in testdata/fuzz/FuzzRESP.
func FuzzRESP(f *testing.F) {
	for _, seed := range []string{
		mb("SET", "key", "value"), mb("GET", "key") + mb("PING"), "PING\r\n", "SET a b\n",
		"*0\r\n", "*-1\r\n", "*1\r\n$-1\r\n", "*2\r\n$1\r\na\r\n", "*1\r\n$1\r\nab\r\n",
		"*1\rx", "\r\n", "*x\r\n", "$5\r\nhello\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		args, n, err := parseCommand(data, nil)
		switch {
		case n < 0 || n > len(data):
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		case err != nil && (n != 0 || len(args) != 0):
			t.Fatalf("error %v with %d consumed and %d args", err, n, len(args))
		case n == 0 && len(args) != 0:
			t.Fatalf("need-more with %d args", len(args))
		case n == 0 || len(args) == 0:
			return
		}
		for _, a := range args {
			if !within(a, data[:n]) {
				t.Fatalf("argument %q is not inside the consumed bytes", a)
			}
		}
		checkRoundTrip(t, args)
		checkPrefixesWait(t, data[:n])
	})
}

// checkPrefixesWait wants need-more for every strict prefix of a command (short
// ones only: the check is quadratic).
func checkPrefixesWait(t *testing.T, cmd []byte) {
	if len(cmd) > 512 {
		return
	}
	for i := range len(cmd) {
		if args, n, err := parseCommand(cmd[:i], nil); n != 0 || err != nil || len(args) != 0 {
			t.Fatalf("prefix %q of %q: %d consumed, %v; want need-more", cmd[:i], cmd, n, err)
		}
	}
}

// within reports whether sub lies inside buf's memory.
func within(sub, buf []byte) bool {
	if len(sub) == 0 {
		return true
	}
	for i := 0; i+len(sub) <= len(buf); i++ {
		if &buf[i] == &sub[0] {
			return true
		}
	}
	return false
}

// checkRoundTrip encodes args as multibulk, parses that, and wants the same
// args and every byte consumed.
func checkRoundTrip(t *testing.T, args [][]byte) {
	strs := make([]string, len(args))
	for i, a := range args {
		strs[i] = string(a)
	}
	enc := mb(strs...)
	again, n, err := parseCommand([]byte(enc), nil)
	if err != nil || n != len(enc) || !bytes.Equal(bytes.Join(again, []byte{0}), bytes.Join(args, []byte{0})) || len(again) != len(args) {
		t.Fatalf("round trip of %q: got %q, %d of %d, %v", argsString(args), argsString(again), n, len(enc), err)
	}
}

// BenchmarkParse measures the parser on the requests redis-benchmark sends,
// called as OnData calls it.
func BenchmarkParse(b *testing.B) {
	cases := []struct{ name, in string }{
		{"get", mb("GET", "key:__rand_int__")},
		{"set", mb("SET", "key:__rand_int__", "xxx")},
		{"inline", "PING\r\n"},
		{"mset10", mb("MSET", "k", "xxx", "k", "xxx", "k", "xxx", "k", "xxx", "k", "xxx",
			"k", "xxx", "k", "xxx", "k", "xxx", "k", "xxx", "k", "xxx")},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			in := []byte(tc.in)
			var argv [stackArgs][]byte
			var spanv [stackArgs]span
			var p *partial
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, n, _ := readCommand(in, &p, spanv[:0], argv[:0]); n != len(in) {
					b.Fatal("short parse")
				}
			}
		})
	}
}
