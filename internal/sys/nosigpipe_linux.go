package sys

// NoSigpipe is a no-op on Linux: every socket write already passes MSG_NOSIGNAL.
func NoSigpipe(fd int) error { return nil }
