package sys

import "golang.org/x/sys/unix"

// AcceptBuf is where an accept writes the peer's address. A listener keeps one,
// so that accepting allocates nothing where the raw accept4 is used (x/sys's
// Accept4 allocates an address buffer and the Sockaddr it returns on every
// call: about 200 bytes of garbage per connection).
type AcceptBuf struct {
	raw unix.RawSockaddrAny
	len uint32
}
