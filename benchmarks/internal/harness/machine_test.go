package harness

import (
	"runtime"
	"strings"
	"testing"
)

func TestCPUModelFromX86Cpuinfo(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC   9R14 96-Core Processor\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n"
	if got, want := cpuModel(cpuinfo), "AMD EPYC 9R14 96-Core Processor"; got != want {
		t.Fatalf("cpuModel = %q, want %q", got, want)
	}
}

func TestCPUModelFromArmCpuinfoFallsBack(t *testing.T) {
	cpuinfo := "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\nHardware\t: BCM2835\n"
	if got, want := cpuModel(cpuinfo), "BCM2835"; got != want {
		t.Fatalf("cpuModel = %q, want %q", got, want)
	}
}

func TestMachineNamesGoVersionAndCores(t *testing.T) {
	m := Machine()
	if !strings.Contains(m, runtime.Version()) || !strings.Contains(m, "cores") {
		t.Fatalf("Machine() = %q, want the Go version and a core count", m)
	}
	t.Log(m)
}
