package harness

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine describes this machine for the results, in one line: the CPU model
// (from /proc/cpuinfo), the cores this process may use, the kernel release
// (uname -r, read from /proc/sys/kernel/osrelease), the Go version the
// harness was built with, and today's date. A part that cannot be read says
// "unknown".
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := cpuModel(string(b)); m != "" {
			model = m
		}
	}
	kernel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d cores, %s %s, %s, %s",
		model, runtime.NumCPU(), runtime.GOOS, kernel, runtime.Version(), time.Now().Format("2006-01-02"))
}

// cpuModel returns the first "model name" in /proc/cpuinfo's text (x86), or
// failing that the first "Hardware", "Processor" or "cpu model" line (arm,
// mips), with runs of spaces squeezed.
func cpuModel(cpuinfo string) string {
	var fallback string
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.Join(strings.Fields(value), " ")
		switch {
		case key == "model name" && value != "":
			return value
		case fallback == "" && value != "" && (key == "Hardware" || key == "Processor" || key == "cpu model"):
			fallback = value
		}
	}
	return fallback
}
