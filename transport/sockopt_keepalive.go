//go:build linux || dragonfly || freebsd || netbsd

package transport

import (
	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// setKeepAlivePeriod sets the idle time before the first probe and between probes.
func setKeepAlivePeriod(fd, secs int) error {
	if err := sys.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs); err != nil {
		return err
	}
	return sys.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}
