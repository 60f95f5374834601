package shard

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/sycamore-go/sycamore/internal/sys"
)

// The socket activation protocol of systemd (sd_listen_fds(3)): the service
// manager passes the sockets as fds 3, 4, … and says so in three variables.
const (
	// listenFdsStart is the first passed fd (SD_LISTEN_FDS_START): 0 to 2 are
	// stdin, stdout and stderr.
	listenFdsStart = 3
	// envListenPID holds the pid of the process the fds are for: a child that
	// inherited the environment but not the fds must not take them.
	envListenPID = "LISTEN_PID"
	// envListenFds holds how many fds were passed.
	envListenFds = "LISTEN_FDS"
	// envListenFdNames holds their names, colon-separated (FileDescriptorName=
	// in the socket unit, the unit's name by default).
	envListenFdNames = "LISTEN_FDNAMES"
	// unknownFdName is the name of every fd when LISTEN_FDNAMES is not set,
	// as sd_listen_fds_with_names(3) has it.
	unknownFdName = "unknown"
)

// ErrSystemdEnv is returned by SystemdListeners when the socket activation
// variables are set but malformed, or name fds that are not open.
var ErrSystemdEnv = errors.New("shard: malformed systemd socket activation variables")

// SystemdListeners returns the sockets systemd passed to this process by socket
// activation, in the order of the socket unit(s); serve each listening stream
// socket among them with Engine.ListenFile, then close the file. Each file's
// Name is its name from LISTEN_FDNAMES (FileDescriptorName= in the socket unit,
// by default the unit's name), or "unknown" when that variable is not set.
//
// It does what sd_listen_fds_with_names(3) does with unset_environment set: the
// fds are LISTEN_FDS fds from fd 3 on, and only when LISTEN_PID is this
// process's pid (otherwise, or with the variables unset, it returns none and no
// error); it sets close-on-exec on them, so a child does not inherit them by
// mistake; and it unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES whatever the
// outcome, so that a second call, or a child, finds none. A malformed variable,
// a count of names other than LISTEN_FDS, or a passed fd that is not open is
// ErrSystemdEnv. The files are not checked: a socket unit may pass datagram
// sockets or FIFOs too, which ListenFile refuses.
//
// Call it once, early, before anything else in the process opens files: the
// fds it returns are whatever fds 3 onwards are, and the process owns them
// (close the ones it does not use). Safe from any goroutine, but it reads and
// changes the process's environment.
func SystemdListeners() ([]*os.File, error) {
	pidVar, _ := os.LookupEnv(envListenPID)
	fdsVar, _ := os.LookupEnv(envListenFds)
	namesVar, named := os.LookupEnv(envListenFdNames)
	os.Unsetenv(envListenPID)
	os.Unsetenv(envListenFds)
	os.Unsetenv(envListenFdNames)
	if pidVar == "" || fdsVar == "" {
		return nil, nil
	}
	pid, err := strconv.Atoi(pidVar)
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("%w: %s=%q is not a pid", ErrSystemdEnv, envListenPID, pidVar)
	}
	if pid != os.Getpid() {
		return nil, nil // the variables were meant for another process
	}
	n, err := strconv.Atoi(fdsVar)
	if err != nil || n < 0 || n > math.MaxInt32-listenFdsStart {
		return nil, fmt.Errorf("%w: %s=%q is not a count of fds", ErrSystemdEnv, envListenFds, fdsVar)
	}
	if n == 0 {
		return nil, nil
	}
	if err := closePassedOnExec(n); err != nil {
		return nil, err
	}
	names := make([]string, n)
	if named {
		names = strings.Split(namesVar, ":")
		if len(names) != n {
			return nil, fmt.Errorf("%w: %s names %d fds, %s=%d", ErrSystemdEnv, envListenFdNames, len(names), envListenFds, n)
		}
	} else {
		for i := range names {
			names[i] = unknownFdName
		}
	}
	files := make([]*os.File, n)
	for i := range files {
		files[i] = os.NewFile(uintptr(listenFdsStart+i), names[i])
	}
	return files, nil
}

// closePassedOnExec sets close-on-exec on the n passed fds, which also checks
// that each is open. It holds syscall.ForkLock for reading meanwhile, as the
// standard library does between making an fd and marking it, so that no
// os/exec on another goroutine forks in between with the fds inheritable.
func closePassedOnExec(n int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	for fd := listenFdsStart; fd < listenFdsStart+n; fd++ {
		if err := sys.SetCloseOnExec(fd); err != nil {
			return fmt.Errorf("%w: %s=%d, but fd %d: %w", ErrSystemdEnv, envListenFds, n, fd, err)
		}
	}
	return nil
}
