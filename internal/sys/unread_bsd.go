//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package sys

import "golang.org/x/sys/unix"

// fionread is FIONREAD on every BSD: _IOR('f', 127, int), that is
// IOC_OUT (0x40000000) | sizeof(int) << 16 | 'f' << 8 | 127. x/sys/unix does not
// define it for these systems.
const fionread = 0x4004667f

// Unread returns how many bytes the kernel holds for fd that have not been read
// yet (ioctl FIONREAD).
var Unread = func(fd int) (int, error) {
	return Retry(func() (int, error) { return unix.IoctlGetInt(fd, fionread) })
}
