package sys

import "golang.org/x/sys/unix"

// Peek reads what a socket holds into p without consuming it (recv with
// MSG_PEEK): the PROXY protocol reader parses a header this way, then reads
// exactly its length, leaving the bytes after it to the conn.
var Peek = func(fd int, p []byte) (int, error) {
	n, _, err := unix.Recvfrom(fd, p, unix.MSG_PEEK)
	return n, err
}
