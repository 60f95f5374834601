package harness

import (
	"strings"
	"testing"
)

func TestCapToFdLimitLeavesReserveAndSaysSo(t *testing.T) {
	n, note := capToFdLimit(50000, 20000)
	if n != 20000-fdReserve || !strings.Contains(note, "capped from 50000 by RLIMIT_NOFILE 20000") {
		t.Fatalf("capToFdLimit = %d, %q", n, note)
	}
	if n, note := capToFdLimit(1000, 20000); n != 1000 || note != "" {
		t.Fatalf("capToFdLimit(1000) = %d, %q; want 1000 and no note", n, note)
	}
	if n, _ := capToFdLimit(1000, ^uint64(0)); n != 1000 {
		t.Fatalf("capToFdLimit under RLIM_INFINITY = %d, want 1000", n)
	}
}

func TestContentLengthIsCaseInsensitive(t *testing.T) {
	n, err := contentLength([]byte("HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\n"))
	if err != nil || n != 13 {
		t.Fatalf("contentLength = %d, %v; want 13", n, err)
	}
	if _, err := contentLength([]byte("HTTP/1.1 200 OK\r\n\r\n")); err == nil {
		t.Fatal("contentLength accepted a head without Content-Length")
	}
}
