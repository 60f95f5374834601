package harness

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/PID/stat:
// sysconf(_SC_CLK_TCK), the kernel's USER_HZ. It is 100 on every Linux
// architecture Go supports, whatever the kernel's own HZ; reading it would
// need cgo, so it is a constant here.
const clockTicks = 100

// procStat holds the fields of /proc/PID/stat that the harness uses.
type procStat struct {
	pid, ppid, pgrp int
	ticks           int64 // utime + stime, in clockTicks
}

// parseStat parses the contents of /proc/PID/stat. The second field, the
// command name in parentheses, may itself hold spaces and parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("harness: malformed /proc stat %.40q", b)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return procStat{}, fmt.Errorf("harness: malformed /proc stat pid: %w", err)
	}
	// After the ')' come field 3 (state) onwards: f[0] is field 3, so field
	// k is f[k-3]: ppid (4), pgrp (5), utime (14), stime (15).
	f := bytes.Fields(b[end+1:])
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("harness: /proc/%d/stat has %d fields after the name, want at least 13", pid, len(f))
	}
	var n [4]int64
	for i, k := range [4]int{4, 5, 14, 15} {
		if n[i], err = strconv.ParseInt(string(f[k-3]), 10, 64); err != nil {
			return procStat{}, fmt.Errorf("harness: /proc/%d/stat field %d: %w", pid, k, err)
		}
	}
	return procStat{pid: pid, ppid: int(n[0]), pgrp: int(n[1]), ticks: n[2] + n[3]}, nil
}

// parseStatusKB returns the field of /proc/PID/status named field ("VmRSS",
// "VmHWM"), in bytes. A kernel thread or a zombie has no such line; that
// reads as 0.
func parseStatusKB(b []byte, field string) (int64, error) {
	prefix := []byte(field + ":")
	for _, line := range bytes.Split(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("harness: malformed %s line %q", field, line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("harness: malformed %s line %q: %w", field, line, err)
		}
		return kb << 10, nil
	}
	return 0, nil
}

// readStats reads /proc/*/stat. Processes that exit during the walk are
// skipped.
func readStats() ([]procStat, error) {
	paths, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("harness: cannot list /proc/*/stat: %v", err)
	}
	stats := make([]procStat, 0, len(paths))
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited since the glob
		}
		if st, err := parseStat(b); err == nil {
			stats = append(stats, st)
		}
	}
	return stats, nil
}

// family returns, sorted, the pids in stats that belong to leader: the
// members of its process group and all its descendants (a child that moved to
// a group of its own is still counted).
func family(stats []procStat, leader int) []int {
	children := make(map[int][]int)
	in := make(map[int]bool)
	for _, st := range stats {
		children[st.ppid] = append(children[st.ppid], st.pid)
		if st.pid == leader || st.pgrp == leader {
			in[st.pid] = true
		}
	}
	// Walk down from the leader; every pid queued came from stats, except the
	// leader, which was added above only if it is there.
	seen := map[int]bool{leader: true}
	queue := append([]int(nil), children[leader]...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid], in[pid] = true, true
		queue = append(queue, children[pid]...)
	}
	pids := make([]int, 0, len(in))
	for pid := range in {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

// groupMembers returns the live pids in process group pgrp.
func groupMembers(pgrp int) []int {
	stats, _ := readStats()
	var pids []int
	for _, st := range stats {
		if st.pgrp == pgrp {
			pids = append(pids, st.pid)
		}
	}
	return pids
}

// Pids returns the server's process and all its descendants and process
// group members (nginx's workers, for one), sorted.
func (p *Proc) Pids() ([]int, error) {
	stats, err := readStats()
	if err != nil {
		return nil, err
	}
	return familyOf(stats, p.Pid)
}

// familyOf is family, failing when the leader itself is gone.
func familyOf(stats []procStat, leader int) ([]int, error) {
	pids := family(stats, leader)
	for _, pid := range pids {
		if pid == leader {
			return pids, nil
		}
	}
	return nil, fmt.Errorf("harness: process %d is not running", leader)
}

// CPU returns utime+stime of the server and all its descendants and process
// group members, from /proc/PID/stat. Time spent by children that have
// already exited is not included. The resolution is one clock tick (10 ms).
func (p *Proc) CPU() (time.Duration, error) {
	stats, err := readStats()
	if err != nil {
		return 0, err
	}
	pids, err := familyOf(stats, p.Pid)
	if err != nil {
		return 0, err
	}
	in := make(map[int]bool, len(pids))
	for _, pid := range pids {
		in[pid] = true
	}
	var ticks int64
	for _, st := range stats {
		if in[st.pid] {
			ticks += st.ticks
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// RSS returns the resident set size in bytes of the server plus its
// descendants and process group members: the sum of their VmRSS lines in
// /proc/PID/status. Pages shared between processes (nginx's workers share
// the master's) are counted once per process, as ps and top count them.
func (p *Proc) RSS() (int64, error) { return p.sumStatus("VmRSS") }

// PeakRSS is RSS at its highest so far: the sum of the VmHWM lines ("high
// water mark"), each the most a process has held resident since it started.
// The peaks of several processes need not have come at the same moment, so
// for a server of more than one process the sum can exceed any RSS it ever
// had at once. The kernel reads its RSS counters approximately (they are
// per-CPU), so an RSS taken a moment before can exceed PeakRSS by a little.
func (p *Proc) PeakRSS() (int64, error) { return p.sumStatus("VmHWM") }

// sumStatus sums the field of /proc/PID/status named field, in bytes, over
// the server's processes.
func (p *Proc) sumStatus(field string) (int64, error) {
	pids, err := p.Pids()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			if pid == p.Pid {
				return 0, fmt.Errorf("harness: %w", err)
			}
			continue // a worker exited since the walk
		}
		v, err := parseStatusKB(b, field)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}
