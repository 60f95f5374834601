package transport

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// setSockopts applies cfg's socket options. TCP options on a non-TCP socket (a
// unix socket) are skipped, not errors.
func setSockopts(fd int, cfg *Config) error {
	if err := sys.NoSigpipe(fd); err != nil {
		return fmt.Errorf("transport: SO_NOSIGPIPE: %w", err)
	}
	if cfg.NoDelay {
		if err := sys.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil && !notTCP(err) {
			return fmt.Errorf("transport: TCP_NODELAY: %w", err)
		}
	}
	if cfg.KeepAlive > 0 {
		if err := setKeepAlive(fd, cfg); err != nil && !notTCP(err) {
			return fmt.Errorf("transport: keep-alive: %w", err)
		}
	}
	return nil
}

func setKeepAlive(fd int, cfg *Config) error {
	secs := max(int(cfg.KeepAlive.Seconds()), 1)
	if err := sys.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	return setKeepAlivePeriod(fd, secs)
}

// notTCP reports the errors a TCP option gets on a socket of another kind.
func notTCP(err error) bool {
	return err == unix.EOPNOTSUPP || err == unix.ENOPROTOOPT || err == unix.EINVAL
}
