//go:build dragonfly || freebsd || netbsd || openbsd

package sys

import "golang.org/x/sys/unix"

func pipe2(p []int, flags int) error { return unix.Pipe2(p, flags) }
