package pglocal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// sysProcAttr configures a server process started by Herald.
//
// Setpgid puts the server in its own process group, so that Ctrl-C in a
// terminal (which signals the whole foreground group) reaches Herald only;
// Herald then stops the server after it has finished with the database,
// instead of the server vanishing under a graceful shutdown.
//
// Pdeathsig makes the kernel kill the server when Herald dies, even by
// SIGKILL, so no orphan keeps the data directory locked. The kernel sends it
// when the *thread* that forked the child exits, which is why children are
// started from a goroutine locked to its OS thread (see startLocked). Go sets
// the signal after switching credentials, which would otherwise clear it.
func sysProcAttr(a *account) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: a.credential(),
	}
}

// procState is what inspectProcess learns about a pid.
type procState int

const (
	procOther    procState = iota // alive, not a PostgreSQL server
	procPostgres                  // alive and running the postgres binary
	procZombie                    // exited but not reaped (e.g. a container init that does not reap)
)

// inspectProcess reads /proc to tell a live postgres from a pid that was
// reused by something else, returning the process's command line too (the
// postmaster keeps its original arguments, including -D <data dir>). ok is
// false when the process does not exist or cannot be inspected.
func inspectProcess(pid int) (state procState, cmdline string, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	// Format: "pid (comm) S ...". comm may contain spaces and parentheses,
	// so the state is the field after the last ')'.
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open || end+2 >= len(stat) {
		return 0, "", false
	}
	if stat[end+2] == 'Z' {
		return procZombie, "", true
	}
	comm := string(stat[open+1 : end])
	if comm != "postgres" && comm != "postmaster" {
		return procOther, "", true
	}
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return procPostgres, string(bytes.ReplaceAll(bytes.TrimRight(raw, "\x00"), []byte{0}, []byte{' '})), true
}

// killOrphans kills the PostgreSQL processes still working in dataDir
// after their server died, and returns how many. Backends lead process
// groups of their own (PostgreSQL calls setsid in each), so signalling the
// server's group does not reach them; but every one of them works in the
// data directory. One left waiting on a lock held by a process that died
// would keep the old shared memory attached, and the next server would
// refuse to start ("pre-existing shared memory block is still in use").
func killOrphans(dataDir string) int {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return 0
	}
	want, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return 0
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, _, ok := inspectProcess(pid); !ok || st != procPostgres {
			continue
		}
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && cwd == want {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	return n
}
