//go:build unix

package pglocal

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"
)

// platformErr is nil where a local server is supported.
var platformErr error

// serverAccount returns the account to run PostgreSQL as: nil unless Herald
// runs as root, because initdb and postgres refuse to run as root.
func serverAccount(name string) (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, so it must run as user %q, which cannot be found (create it, e.g. by installing the postgresql package, or run Herald as a non-root user): %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %s has uid 0, but PostgreSQL must run as an unprivileged user", name)
	}
	a := &account{name: name, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of user %s: %w", name, err)
	}
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			a.groups = append(a.groups, uint32(g))
		}
	}
	return a, nil
}

// canSearch reports whether a may traverse (execute) the directory fi, from
// its mode bits. POSIX ACLs are not consulted; with ACLs the group bits hold
// the ACL mask, which errs on the side of reporting a problem.
func canSearch(fi fs.FileInfo, a *account) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == a.uid:
		return perm&0o100 != 0
	case st.Gid == a.gid || slices.Contains(a.groups, st.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// ownerUID returns the owning uid of fi.
func ownerUID(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// chownTo gives path to a; a no-op when not switching users.
func chownTo(path string, a *account) error {
	if a == nil {
		return nil
	}
	if err := os.Chown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("give %s to user %s: %w", path, a.name, err)
	}
	return nil
}

// credential is the identity a child process switches to.
func (a *account) credential() *syscall.Credential {
	if a == nil {
		return nil
	}
	return &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
}

// signalGroup signals every process of the server's process group. The
// server leads its own group (see sysProcAttr). PostgreSQL's backends lead
// groups of their own (setsid), so this does not reach them: killOrphans
// does.
func signalGroup(pid int, sig syscall.Signal) error {
	return syscall.Kill(-pid, sig)
}

// pidAlive reports whether a process with this pid exists (zombies count as
// gone where the platform lets us tell).
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && err != syscall.EPERM {
		return false
	}
	st, _, ok := inspectProcess(pid)
	return !ok || st != procZombie
}
