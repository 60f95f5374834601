package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Mmsghdr is the kernel's struct mmsghdr: one datagram of a recvmmsg or sendmmsg
// batch, and (Len) how many bytes of it moved.
type Mmsghdr struct {
	Hdr unix.Msghdr
	Len uint32
}

// Recvmmsg reads up to len(msgs) datagrams from a non-blocking socket in one
// call (MSG_DONTWAIT) and returns how many it read; each one's length is in its
// Len, and MSG_TRUNC in its Hdr.Flags when it was larger than its buffer.
var Recvmmsg = func(fd int, msgs []Mmsghdr) (int, error) {
	return mmsg(unix.SYS_RECVMMSG, fd, msgs, unix.MSG_DONTWAIT)
}

// Sendmmsg writes up to len(msgs) datagrams in one call and returns how many
// the kernel took; an error means it took none (the first one failed).
var Sendmmsg = func(fd int, msgs []Mmsghdr) (int, error) {
	return mmsg(unix.SYS_SENDMMSG, fd, msgs, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
}

func mmsg(trap uintptr, fd int, msgs []Mmsghdr, flags int) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)),
		uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
