package poller

import "fmt"

// wrap names the failing call: "poller: epoll_ctl: bad file descriptor". The errno
// stays reachable through errors.Is.
func wrap(op string, err error) error { return fmt.Errorf("poller: %s: %w", op, err) }
