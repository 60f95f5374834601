package harness

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestExpandArgsReplacesAddrHostPort(t *testing.T) {
	got := expandArgs([]string{"srv", "-addr", "{addr}", "--port={port}", "{host}"}, "127.0.0.1:8080")
	want := []string{"srv", "-addr", "127.0.0.1:8080", "--port=8080", "127.0.0.1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("expandArgs = %q, want %q", got, want)
	}
}

func TestServerLineNamesTheBinaryByBaseNameAndQuotes(t *testing.T) {
	s := Server{Args: []string{"/usr/bin/redis-server", "--port", "{port}", "--save", "", "--client-output-buffer-limit", "pubsub 1mb 0 0"}}
	want := "redis-server --port {port} --save '' --client-output-buffer-limit 'pubsub 1mb 0 0'"
	if got := s.Line(); got != want {
		t.Fatalf("Line = %q, want %q", got, want)
	}
}

func TestSafeNameHasNoSlash(t *testing.T) {
	if got := safeName("net/http echo"); got != "net-http-echo" {
		t.Fatalf("safeName = %q", got)
	}
}

func TestStartOfServerThatNeverListensFailsWithItsLog(t *testing.T) {
	s := Server{Name: "false", Args: []string{"sh", "-c", "echo bad flag {port}; exit 3"}}
	p, err := Start(context.Background(), s)
	if err == nil {
		p.Stop()
		t.Fatal("Start succeeded for a server that exits at once")
	}
	if !strings.Contains(err.Error(), "bad flag") || !strings.HasPrefix(err.Error(), "harness: ") {
		t.Fatalf("Start error %q should start with harness: and quote the log", err)
	}
}

func TestStartOfMissingBinaryFails(t *testing.T) {
	_, err := Start(context.Background(), Server{Name: "nope", Args: []string{"/nonexistent/server"}})
	if err == nil || !strings.HasPrefix(err.Error(), "harness: ") {
		t.Fatalf("Start = %v, want a harness: error", err)
	}
}

func TestExitedOnSignal(t *testing.T) {
	if !exitedOnSignal(nil, 15) {
		t.Error("a clean exit should count")
	}
	err := exec.Command("sh", "-c", "exit 3").Run()
	if exitedOnSignal(err, 15) {
		t.Error("exit status 3 should not count")
	}
	err = exec.Command("sh", "-c", "kill -TERM $$").Run()
	if !exitedOnSignal(err, 15) {
		t.Errorf("death by SIGTERM should count (%v)", err)
	}
}
