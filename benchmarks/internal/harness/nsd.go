package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// nsdConf is the whole NSD configuration, with every file NSD writes inside
// the temp dir. Its placeholders, in order: the port, server-count, reuseport
// (yes or no), the temp dir, the zone's name and its zone file.
//
//   - rrl-ratelimit: 0 turns response-rate limiting off: its default, 200
//     responses a second for each client /24 (and twice that in total
//     spread over names), caps a benchmark from one address near 400 q/s.
//   - minimal-responses: yes leaves out the NS records (and their glue)
//     NSD otherwise adds to the authority section of a positive answer, so
//     that its responses are the size of the other servers'.
//   - reuseport: with more than one server, each gets a socket of its own
//     (SO_REUSEPORT) and the kernel spreads the queries, as it does over
//     sycamore's loops, instead of all waking on one socket.
//   - username "" and chroot "" keep NSD from switching user or root: every
//     path is in a temp dir the harness owns. database keeps the compiled
//     zones (NSD 4.6's nsd.db) there as well; NSD reads the zone file at
//     start, with no separate compile step, and -d keeps it in the
//     foreground, logging to stderr.
const nsdConf = `server:
    ip-address: 127.0.0.1
    port: %[1]s
    do-ip6: no
    server-count: %[2]d
    reuseport: %[3]s
    rrl-ratelimit: 0
    minimal-responses: yes
    username: ""
    chroot: ""
    verbosity: 0
    zonesdir: "%[4]s"
    database: "%[4]s/nsd.db"
    pidfile: "%[4]s/nsd.pid"
    xfrdfile: "%[4]s/xfrd.state"
    zonelistfile: "%[4]s/zone.list"
    xfrdir: "%[4]s"

remote-control:
    control-enable: no

zone:
    name: "%[5]s"
    zonefile: "%[6]s"
`

// nsdCheckWait bounds nsd-checkconf, which reads a short file.
const nsdCheckWait = 10 * time.Second

// NSD returns a Server that runs NSD (NLnet Labs' authoritative DNS server)
// in the foreground (nsd -d) with a generated nsd.conf in its temp dir,
// serving the zone named zone from zoneFile (an absolute path) on 127.0.0.1,
// UDP and TCP, with servers server processes (server-count). Setup checks
// the config with nsd-checkconf, so that a mistake in it reads as one. ok
// is false if NSD is not installed (on the PATH or as /usr/sbin/nsd).
func NSD(zone, zoneFile string, servers int) (s Server, ok bool) {
	path, ok := FindTool("nsd")
	if !ok {
		return Server{}, false
	}
	return Server{
		Name:    "nsd",
		Kind:    "dns",
		Network: "udp",
		Args:    []string{path, "-d"},
		Note: fmt.Sprintf("-c nsd.conf: server-count %d, reuseport %s, rrl-ratelimit 0, minimal-responses yes, zone %s from %s (harness/nsd.go)",
			max(servers, 1), reusePort(servers), zone, filepath.Base(zoneFile)),
		Setup: func(dir, addr string) ([]string, error) {
			return nsdSetup(dir, addr, zone, zoneFile, max(servers, 1))
		},
	}, true
}

// FindTool finds a tool on the PATH or, as Debian installs daemons (nginx,
// nsd) there and a non-root PATH often lacks it, in /usr/sbin.
func FindTool(name string) (string, bool) {
	if path, err := exec.LookPath(name); err == nil {
		return path, true
	}
	path := filepath.Join("/usr/sbin", name)
	st, err := os.Stat(path)
	return path, err == nil && !st.IsDir()
}

// reusePort is nsd.conf's reuseport for servers servers: yes when there are
// several to spread the queries over.
func reusePort(servers int) string {
	if servers > 1 {
		return "yes"
	}
	return "no"
}

// nsdSetup writes nsd.conf into dir, checks it with nsd-checkconf where that
// is installed, and returns the arguments that point NSD at it.
func nsdSetup(dir, addr, zone, zoneFile string, servers int) ([]string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("harness: nsd: %w", err)
	}
	if strings.ContainsAny(dir+zoneFile+zone, "\"\n") {
		return nil, fmt.Errorf("harness: nsd: %q or %q needs quoting in nsd.conf", dir, zoneFile)
	}
	conf := filepath.Join(dir, "nsd.conf")
	text := fmt.Sprintf(nsdConf, port, servers, reusePort(servers), dir, zone, zoneFile)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("harness: nsd: %w", err)
	}
	if check, ok := FindTool("nsd-checkconf"); ok {
		ctx, cancel := context.WithTimeout(context.Background(), nsdCheckWait)
		defer cancel()
		if out, err := exec.CommandContext(ctx, check, conf).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("harness: nsd-checkconf %s: %v: %s", conf, err, OneLine(string(out), 300))
		}
	}
	return []string{"-c", conf}, nil
}
