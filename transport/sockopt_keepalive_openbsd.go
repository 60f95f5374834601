package transport

// setKeepAlivePeriod does nothing: OpenBSD has no per-socket keep-alive timing;
// SO_KEEPALIVE uses the system-wide net.inet.tcp.keepidle.
func setKeepAlivePeriod(fd, secs int) error { return nil }
