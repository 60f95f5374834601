package loop

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

func TestRunPinsLoopThreadToConfiguredCPU(t *testing.T) {
	var mine unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil || !mine.IsSet(0) {
		t.Skipf("CPU 0 is not available to this process (%v)", err)
	}
	l, err := New(Config{CPU: 0, OnError: func(tg Target, err error) { t.Errorf("OnError(%v, %v)", tg, err) }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer l.Close()
	// Run never unlocks a pinned thread, so it gets a goroutine of its own; the
	// thread ends with it.
	startRun(t, l, context.Background())
	var set unix.CPUSet
	var getErr error
	submitAndWait(t, l, func() { getErr = unix.SchedGetaffinity(0, &set) })
	if getErr != nil {
		t.Fatalf("sched_getaffinity in the loop: %v", getErr)
	}
	if set.Count() != 1 || !set.IsSet(0) {
		t.Fatalf("loop thread affinity has %d CPUs (CPU 0 set: %v), want only CPU 0", set.Count(), set.IsSet(0))
	}
}

func TestRunOnUnavailableCPUReturnsError(t *testing.T) {
	var mine unix.CPUSet
	const cpu = 1023 // the last CPU a CPUSet can name
	if err := unix.SchedGetaffinity(0, &mine); err != nil || mine.IsSet(cpu) {
		t.Skipf("CPU %d is available (%v)", cpu, err)
	}
	l, err := New(Config{CPU: cpu})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	if err := testutil.Recv(t, done, waitFor, "Run"); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Run pinned to CPU %d = %v, want an error wrapping EINVAL", cpu, err)
	}
}
