package harness

import (
	"os"
	"reflect"
	"testing"
	"time"
)

// A real /proc/PID/stat line from `cat /proc/self/stat`.
const sampleStat = "20389 (cat) R 20387 20387 15592 0 -1 4194304 97 0 0 0 7 3 0 0 20 0 1 0 514971 3133440 380 18446744073709551615 94671465320448 94671465340329 140734107425616 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94671465356336 94671465357952 94671529717760 140734107429569 140734107429589 140734107429589 140734107430891 0\n"

func TestParseStatReadsPpidPgrpAndTicks(t *testing.T) {
	got, err := parseStat([]byte(sampleStat))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{pid: 20389, ppid: 20387, pgrp: 20387, ticks: 10}
	if got != want {
		t.Fatalf("parseStat = %+v, want %+v", got, want)
	}
}

func TestParseStatSurvivesSpacesAndParensInName(t *testing.T) {
	line := "42 (nginx: worker) (x)) S 7 7 7 0 -1 0 0 0 0 0 120 35 0 0 20 0 1 0 1 1 1\n"
	got, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{pid: 42, ppid: 7, pgrp: 7, ticks: 155}
	if got != want {
		t.Fatalf("parseStat = %+v, want %+v", got, want)
	}
}

func TestParseStatRejectsTruncatedLine(t *testing.T) {
	for _, line := range []string{"", "12 cat R 1", "12 (cat) R 1 1 1"} {
		if _, err := parseStat([]byte(line)); err == nil {
			t.Errorf("parseStat(%q) succeeded, want an error", line)
		}
	}
}

// A real /proc/PID/status excerpt, its VmHWM raised above VmRSS (as after a
// peak) so that the two fields differ.
const sampleStatus = `Name:	grep
Pid:	20390
PPid:	20387
TracerPid:	0
VmPeak:	    3776 kB
VmSize:	    3760 kB
VmHWM:	    2048 kB
VmRSS:	    2020 kB
VmData:	     292 kB
Threads:	1
`

func TestParseStatusKBReturnsBytesOfTheNamedField(t *testing.T) {
	for field, kb := range map[string]int64{"VmRSS": 2020, "VmHWM": 2048} {
		got, err := parseStatusKB([]byte(sampleStatus), field)
		if err != nil {
			t.Fatal(err)
		}
		if got != kb*1024 {
			t.Errorf("parseStatusKB(%s) = %d, want %d", field, got, kb*1024)
		}
	}
}

func TestParseStatusKBOfKernelThreadIsZero(t *testing.T) {
	got, err := parseStatusKB([]byte("Name:\tkthreadd\nPid:\t2\nThreads:\t1\n"), "VmRSS")
	if err != nil || got != 0 {
		t.Fatalf("parseStatusKB = %d, %v; want 0, nil", got, err)
	}
}

func TestParseStatusKBRejectsOtherUnits(t *testing.T) {
	if _, err := parseStatusKB([]byte("VmRSS:\t12 MB\n"), "VmRSS"); err == nil {
		t.Fatal("parseStatusKB accepted MB")
	}
}

func TestFamilyHasGroupMembersAndDescendants(t *testing.T) {
	stats := []procStat{
		{pid: 1, ppid: 0, pgrp: 1},
		{pid: 100, ppid: 1, pgrp: 100},   // the leader
		{pid: 101, ppid: 100, pgrp: 100}, // worker in its group
		{pid: 102, ppid: 100, pgrp: 102}, // child that setsid'd
		{pid: 103, ppid: 102, pgrp: 102}, // grandchild
		{pid: 104, ppid: 1, pgrp: 100},   // orphan still in the group
		{pid: 200, ppid: 1, pgrp: 200},   // a stranger
	}
	if got, want := family(stats, 100), []int{100, 101, 102, 103, 104}; !reflect.DeepEqual(got, want) {
		t.Fatalf("family = %v, want %v", got, want)
	}
}

func TestFamilyOfExitedLeaderIsAnError(t *testing.T) {
	stats := []procStat{{pid: 101, ppid: 1, pgrp: 100}}
	if _, err := familyOf(stats, 100); err == nil {
		t.Fatal("familyOf succeeded for a leader not in /proc")
	}
}

func TestCPURSSAndPeakRSSOfThisProcess(t *testing.T) {
	p := &Proc{Pid: os.Getpid()}
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) { // burn at least a few clock ticks
	}
	cpu, err := p.CPU()
	if err != nil || cpu <= 0 {
		t.Fatalf("CPU = %v, %v; want > 0", cpu, err)
	}
	rss, err := p.RSS()
	if err != nil || rss < 1<<20 {
		t.Fatalf("RSS = %d, %v; want at least 1 MiB", rss, err)
	}
	// Not peak >= rss: the kernel's RSS counters are per-CPU and read
	// approximately, so a VmRSS read earlier can exceed VmHWM by a little.
	peak, err := p.PeakRSS()
	if err != nil || peak < 1<<20 {
		t.Fatalf("PeakRSS = %d, %v; want at least 1 MiB", peak, err)
	}
}
