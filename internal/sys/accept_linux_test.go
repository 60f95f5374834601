package sys

import (
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A listener with backlog clients already connected, and the clients' fds.
func pendingClients(t *testing.T, n int) (ln int, port int) {
	t.Helper()
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(ln) })
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, n); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(ln)
	port = sa.(*unix.SockaddrInet4).Port
	for i := 0; i < n; i++ {
		c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(c) })
		if err := unix.Connect(c, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
	}
	return ln, port
}

func TestAcceptNonblockAllocatesNothingAndReportsThePeer(t *testing.T) {
	const clients = 40
	ln, _ := pendingClients(t, clients)
	var buf AcceptBuf
	var accepted []int
	t.Cleanup(func() {
		for _, fd := range accepted {
			unix.Close(fd)
		}
	})
	accepted = make([]int, 0, clients)
	var remote netip.AddrPort
	allocs := testing.AllocsPerRun(clients/2-1, func() {
		fd, peer, err := AcceptNonblock(ln, &buf)
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		accepted = append(accepted, fd)
		remote = peer
	})
	if allocs != 0 {
		t.Fatalf("accepting allocates %.0f times per conn", allocs)
	}
	if remote.Addr() != netip.MustParseAddr("127.0.0.1") || remote.Port() == 0 {
		t.Fatalf("peer address %v, want 127.0.0.1 and the client's port", remote)
	}
	flags, _ := unix.FcntlInt(uintptr(accepted[0]), unix.F_GETFL, 0)
	fdflags, _ := unix.FcntlInt(uintptr(accepted[0]), unix.F_GETFD, 0)
	if flags&unix.O_NONBLOCK == 0 || fdflags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("accepted fd flags %#x, fd flags %#x: want non-blocking and close-on-exec", flags, fdflags)
	}
}

func TestNetworkPortReadsNetworkByteOrder(t *testing.T) {
	var p uint16
	b := (*[2]byte)(unsafePointer(&p))
	b[0], b[1] = 0x1f, 0x90 // 8080
	if got := networkPort(p); got != 8080 {
		t.Fatalf("networkPort = %d, want 8080", got)
	}
}

func unsafePointer(p *uint16) unsafe.Pointer { return unsafe.Pointer(p) }
