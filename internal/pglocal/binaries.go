package pglocal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNoBinaries is returned (wrapped) by Start when the PostgreSQL server
// programs initdb and postgres cannot be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found: " +
	"install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; " +
	"Fedora/RHEL: dnf install postgresql-server; macOS: brew install postgresql), " +
	"or set HERALD_PG_BIN to the directory that holds them, " +
	"or set HERALD_DATABASE_URL to use an external PostgreSQL server")

// distroBinGlob matches the versioned server directories of Debian and Ubuntu
// packages, which deliberately keep initdb and postgres off PATH. It is a
// variable so tests can point the search at a fake tree.
var distroBinGlob = "/usr/lib/postgresql/*/bin"

// binaries locates the server programs of one PostgreSQL installation.
type binaries struct {
	dir      string // directory holding both programs
	initdb   string
	postgres string
}

// findBinaries locates initdb and postgres. An explicit binDir is
// authoritative: when the operator names a directory, silently using another
// installation would hide the mistake. Otherwise PATH is searched, then the
// distribution directories, preferring preferMajor (the version that created
// an existing data directory) and else the highest version installed.
func findBinaries(binDir, preferMajor string) (binaries, error) {
	if binDir != "" {
		b, ok := binariesIn(binDir)
		if !ok {
			return binaries{}, fmt.Errorf("no initdb and postgres in %s (from HERALD_PG_BIN/BinDir): %w", binDir, ErrNoBinaries)
		}
		return b, nil
	}

	// Both programs must come from the same installation: an initdb from one
	// major version creates clusters that another version's server refuses.
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(initdb); err == nil {
			initdb = resolved
		}
		if b, ok := binariesIn(filepath.Dir(initdb)); ok {
			return b, nil
		}
	}

	dirs, _ := filepath.Glob(distroBinGlob) // the only possible error is a malformed pattern
	type candidate struct {
		b       binaries
		version []int
	}
	var found []candidate
	for _, dir := range dirs {
		b, ok := binariesIn(dir)
		if !ok {
			continue
		}
		// The version is the path element above bin: /usr/lib/postgresql/15/bin.
		name := filepath.Base(filepath.Dir(dir))
		if preferMajor != "" && name == preferMajor {
			return b, nil
		}
		found = append(found, candidate{b: b, version: parseVersion(name)})
	}
	if len(found) == 0 {
		return binaries{}, fmt.Errorf("searched PATH and %s: %w", distroBinGlob, ErrNoBinaries)
	}
	best := slices.MaxFunc(found, func(a, b candidate) int { return slices.Compare(a.version, b.version) })
	return best.b, nil
}

// binariesIn reports whether dir holds both executables.
func binariesIn(dir string) (binaries, bool) {
	b := binaries{
		dir:      dir,
		initdb:   filepath.Join(dir, "initdb"),
		postgres: filepath.Join(dir, "postgres"),
	}
	for _, p := range []string{b.initdb, b.postgres} {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return binaries{}, false
		}
	}
	return b, true
}

// parseVersion turns "9.6" or "15" into comparable numbers; names that are
// not versions sort first.
func parseVersion(s string) []int {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?`)

// serverMajor returns the major version of a postgres binary in the form
// PostgreSQL writes to PG_VERSION ("15", or "9.6" before version 10).
func serverMajor(ctx context.Context, postgres string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// --version is answered before postgres' refuse-to-run-as-root check,
	// so no credential switch is needed here.
	out, err := exec.CommandContext(ctx, postgres, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s --version: %w", postgres, err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return "", fmt.Errorf("unrecognised output of %s --version: %q", postgres, strings.TrimSpace(string(out)))
	}
	major, _ := strconv.Atoi(m[1])
	if major < 10 && m[2] != "" {
		return m[1] + "." + m[2], nil
	}
	return m[1], nil
}

// majorAtLeast compares a major version string against n.
func majorAtLeast(major string, n int) bool {
	v := parseVersion(major)
	return len(v) > 0 && v[0] >= n
}

// ErrDirNotReachable is returned (wrapped) when Herald runs as root and the
// unprivileged user that runs PostgreSQL cannot reach the data directory.
var ErrDirNotReachable = errors.New("data directory not reachable by the PostgreSQL user")
