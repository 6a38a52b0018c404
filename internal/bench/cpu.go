package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Throughput on a saturated two-core machine moves with whatever else the
// hypervisor runs, so each phase also reports what it cost in CPU: the
// machine's busy time, split between this process (Herald with the load
// generator and the receiver, which share it), PostgreSQL's processes and
// the rest, and the time the hypervisor took away (steal). CPU per event
// is the steadier figure to compare two builds by.

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuSample is a reading of the CPU counters (in clock ticks).
type cpuSample struct {
	at          time.Time
	busy, steal uint64 // the machine's, all CPUs
	self, pg    uint64 // this process; PostgreSQL's processes (with reaped children)
	ok          bool
}

// sampleCPU reads the counters; ok is false where /proc is not there.
func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return s
	}
	// user nice system idle iowait irq softirq steal
	for i, v := range f[1:9] {
		n, _ := strconv.ParseUint(string(v), 10, 64)
		switch i {
		case 3, 4: // idle, iowait
		case 7:
			s.steal = n
		default:
			s.busy += n
		}
	}
	s.self, _ = procTicks("/proc/self/stat", false)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || string(bytes.TrimSpace(comm)) != "postgres" {
			continue
		}
		n, _ := procTicks(filepath.Join(d, "stat"), true)
		s.pg += n
	}
	s.ok = true
	return s
}

// procTicks is a process's user and system time from its stat file, with
// its reaped children's when children is set (the postmaster's include
// the backends that have exited).
func procTicks(path string, children bool) (uint64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields follow its ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name", path)
	}
	f := bytes.Fields(raw[i+1:])
	// f[0] is field 3 (state); utime, stime, cutime, cstime are 14-17.
	if len(f) < 15 {
		return 0, fmt.Errorf("%s: %d fields", path, len(f))
	}
	fields := f[11:13]
	if children {
		fields = f[11:15]
	}
	var sum uint64
	for _, v := range fields {
		n, _ := strconv.ParseInt(string(v), 10, 64)
		if n > 0 {
			sum += uint64(n)
		}
	}
	return sum, nil
}

// cpuUse is what a phase cost in CPU, in cores (CPU seconds per second).
type cpuUse struct {
	seconds           float64 // the phase's wall time
	busy, steal       float64
	herald, pg, other float64
	ok                bool
}

// since is the CPU used from s to now.
func (s cpuSample) since() cpuUse {
	e := sampleCPU()
	if !s.ok || !e.ok {
		return cpuUse{}
	}
	wall := e.at.Sub(s.at).Seconds()
	if wall <= 0 {
		return cpuUse{}
	}
	cores := func(ticks uint64) float64 { return float64(ticks) * clockTick.Seconds() / wall }
	u := cpuUse{seconds: wall, busy: cores(e.busy - s.busy), steal: cores(e.steal - s.steal),
		herald: cores(e.self - s.self), pg: cores(e.pg - s.pg), ok: true}
	u.other = max(0, u.busy-u.herald-u.pg)
	return u
}

// line says how busy the machine was, who used it, and the CPU time per
// unit of work (n units in the phase) in microseconds, with PostgreSQL's
// share.
func (u cpuUse) line(n int64) string {
	if !u.ok {
		return "CPU: not measured (no /proc)"
	}
	s := fmt.Sprintf("CPU: %.2f cores busy (steal %.2f): this process %.2f (Herald, load generator, receiver), PostgreSQL %.2f, other %.2f",
		u.busy, u.steal, u.herald, u.pg, u.other)
	if n > 0 {
		per := func(cores float64) float64 { return cores * u.seconds * 1e6 / float64(n) }
		s += fmt.Sprintf("; %.0f µs of CPU each (PostgreSQL %.0f, this process %.0f)", per(u.busy), per(u.pg), per(u.herald))
	}
	return s
}
