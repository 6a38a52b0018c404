//go:build unix && !linux

package pglocal

import "syscall"

// sysProcAttr configures a server process started by Herald: its own process
// group so a terminal's Ctrl-C reaches Herald only and Herald decides when the
// server stops. Without Linux's parent-death signal, a server whose Herald
// was killed outlives it; the next start reports it as already running.
func sysProcAttr(a *account) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: a.credential(),
	}
}

// procState is what inspectProcess learns about a pid.
type procState int

const (
	procOther procState = iota
	procPostgres
	procZombie
)

// inspectProcess cannot look into other processes portably; callers then
// rely on PostgreSQL's own stale lock file handling.
func inspectProcess(pid int) (procState, string, bool) { return 0, "", false }

// killOrphans cannot find another process's working directory portably:
// an orphaned backend is left to notice its server's death by itself.
func killOrphans(string) int { return 0 }
