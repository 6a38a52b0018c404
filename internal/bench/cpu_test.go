package bench

import (
	"runtime"
	"testing"
	"time"
)

// TestProcTicks reads a process's CPU time from its stat file: the fields
// after the command name (which may hold spaces and parentheses), with and
// without the times of its reaped children, never the fields that follow
// (priority, nice).
func TestProcTicks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		children bool
		want     uint64
	}{
		{false, 731 + 269},
		{true, 731 + 269 + 55 + 45},
	} {
		got, err := procTicks("testdata/proc-stat", tc.children)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("procTicks(children=%v) = %d, want %d", tc.children, got, tc.want)
		}
	}
}

// TestCPUUseSeesThisProcess burns 200 ms of CPU in this process and
// checks the accounting finds it both as this process's and in the
// machine's busy time (which counts every process's).
func TestCPUUseSeesThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	start := sampleCPU()
	deadline := time.Now().Add(time.Minute)
	for sampleCPU().self-start.self < 20 && time.Now().Before(deadline) {
		for i := 0; i < 1e6; i++ {
			_ = i * i
		}
	}
	u := start.since()
	if !u.ok {
		t.Fatal("not measured")
	}
	own, all := u.herald*u.seconds, u.busy*u.seconds // CPU seconds
	if own < 0.2 || all < own-0.05 {
		t.Errorf("200 ms of CPU burnt here measured as %.2f s here and %.2f s busy on the machine: %s", own, all, u.line(0))
	}
}
