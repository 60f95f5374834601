package sys

import "golang.org/x/sys/unix"

// Unread returns how many bytes the kernel holds for fd that have not been read
// yet (ioctl SIOCINQ, which is FIONREAD).
var Unread = func(fd int) (int, error) {
	return Retry(func() (int, error) { return unix.IoctlGetInt(fd, unix.SIOCINQ) })
}
