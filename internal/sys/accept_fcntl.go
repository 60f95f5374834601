//go:build darwin || netbsd || openbsd

package sys

import (
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// Accept is plain accept(2); these systems have no accept4 in x/sys.
var Accept = unix.Accept

// AcceptNonblock accepts a connection, makes it non-blocking and close-on-exec,
// and returns the peer's address (zero for unix sockets); buf is unused here.
// Without accept4 the two steps are separate, so the accept runs under
// syscall.ForkLock: a fork between them cannot leak the new fd into a child.
func AcceptNonblock(fd int, _ *AcceptBuf) (int, netip.AddrPort, error) {
	syscall.ForkLock.RLock()
	nfd, sa, err := Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		Close(nfd)
		return -1, netip.AddrPort{}, err
	}
	return nfd, sockaddrAddrPort(sa), nil
}
