package pglocal

import (
	"bytes"
	"fmt"
	"os"
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
