package poller

import "unsafe"

// putUint64 stores v in host byte order, which is what eventfd expects.
func putUint64(b []byte, v uint64) {
	*(*uint64)(unsafe.Pointer(&b[0])) = v
}
