//go:build dragonfly || freebsd

package sys

import "golang.org/x/sys/unix"

// Accept4 is accept(2) with flags.
var Accept4 = unix.Accept4
