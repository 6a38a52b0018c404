package pglocal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// socketDirPrefix starts the names of socket directories, so that those
// left behind by killed servers can be recognised.
const socketDirPrefix = "hpg"

// maxSocketPath is the room for a Unix socket path on Linux (sun_path is 108
// bytes including the terminating NUL).
const maxSocketPath = 107

// socketName is the file PostgreSQL creates in its socket directory.
var socketName = fmt.Sprintf(".s.PGSQL.%d", Port)

// readPGVersion returns the major version recorded in an existing cluster,
// or "" when dataDir holds no cluster.
func readPGVersion(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read PostgreSQL version of data directory: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// prepareDataDir makes dataDir usable by the server account and reports
// whether it still needs initdb. Missing folders are created; those Herald
// creates above the data directory get mode 0755 so the server account can
// reach the data directory through them. Folders that already existed are
// never changed: a folder the server account cannot traverse is reported.
func prepareDataDir(dataDir string, a *account) (fresh bool, err error) {
	// Create missing ancestors one by one so that only our own folders get
	// their permissions adjusted.
	var missing []string
	for p := filepath.Dir(dataDir); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("inspect %s: %w", p, err)
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("create folder %s: %w", p, err)
		}
		// Mkdir's mode is filtered by the umask; a strict umask (077) would
		// lock the server account out of the folder we just made.
		if err := os.Chmod(p, 0o755); err != nil {
			return false, fmt.Errorf("set permissions of %s: %w", p, err)
		}
	}
	if err := checkReachable(filepath.Dir(dataDir), a, "data directory "+dataDir); err != nil {
		return false, err
	}

	if err := os.Mkdir(dataDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("create data directory %s: %w", dataDir, err)
	}
	fi, err := os.Stat(dataDir)
	if err != nil {
		return false, fmt.Errorf("inspect data directory: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("data directory %s exists and is not a directory", dataDir)
	}

	version, err := readPGVersion(dataDir)
	if err != nil {
		return false, err
	}
	if version != "" {
		// An existing cluster: PostgreSQL insists on owning it. Say so in
		// Herald's terms rather than leaving it to a server log line.
		if a != nil {
			if uid, ok := ownerUID(fi); ok && uid != a.uid {
				return false, fmt.Errorf("data directory %s holds a PostgreSQL cluster owned by uid %d, but the server runs as user %s (uid %d); change its owner (chown -R %s %s) or use another HERALD_DATA_DIR", dataDir, uid, a.name, a.uid, a.name, dataDir)
			}
		}
		return false, nil
	}

	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return false, fmt.Errorf("read data directory: %w", err)
	}
	if len(entries) > 0 {
		return false, fmt.Errorf("data directory %s is not empty but holds no PostgreSQL cluster (no PG_VERSION file); point HERALD_DATA_DIR at an empty or new folder (if it is a mount point, use a subfolder)", dataDir)
	}
	// An empty folder (possibly created by an operator or a volume mount)
	// is handed to the server account; initdb also requires 0700 or 0750.
	if err := chownTo(dataDir, a); err != nil {
		return false, err
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return false, fmt.Errorf("set permissions of data directory: %w", err)
	}
	return true, nil
}

// checkReachable verifies that the server account can traverse every folder
// from the root down to dir, naming the first one it cannot. Without this the
// failure surfaces as an obscure "Permission denied" from initdb or postgres.
func checkReachable(dir string, a *account, what string) error {
	if a == nil {
		return nil // the server runs as us, and we got this far
	}
	var chain []string
	for p := dir; ; p = filepath.Dir(p) {
		chain = append(chain, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		p := chain[i]
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", p, err)
		}
		if !canSearch(fi, a) {
			return fmt.Errorf("%w: PostgreSQL runs as user %s, which cannot enter folder %s (mode %v) on the way to the %s: "+
				"set HERALD_DATA_DIR to a location outside it (e.g. /var/lib/herald), or allow access with chmod o+x %s",
				ErrDirNotReachable, a.name, p, fi.Mode().Perm(), what, p)
		}
	}
	return nil
}

// makeSocketDir creates the private folder for the server's Unix socket. It is
// short-lived, short (socket paths are limited to 107 bytes) and mode 0700
// owned by the server account: together with an empty listen_addresses this keeps
// the trust authentication reachable only by Herald (and root).
func makeSocketDir(a *account) (string, error) {
	var errs []error
	for _, parent := range []string{os.TempDir(), "/tmp"} {
		if len(parent)+len("/hpg0123456789/")+len(socketName) > maxSocketPath {
			errs = append(errs, fmt.Errorf("%s: path too long for a Unix socket", parent))
			continue
		}
		if err := checkReachable(parent, a, "socket directory"); err != nil {
			errs = append(errs, err)
			continue
		}
		sweepSocketDirs(parent, a)
		dir, err := os.MkdirTemp(parent, socketDirPrefix)
		if err != nil {
			errs = append(errs, fmt.Errorf("create socket directory: %w", err))
			continue
		}
		if err := chownTo(dir, a); err != nil {
			_ = os.Remove(dir)
			return "", err
		}
		return dir, nil
	}
	return "", fmt.Errorf("no usable folder for the PostgreSQL socket: %w", errors.Join(errs...))
}

// ensureSocketDir makes sure dir exists as a private folder (0700) of the
// server's account, for a socket folder chosen by the caller or recreated
// after a sweep.
func ensureSocketDir(dir string, a *account) error {
	if len(dir)+1+len(socketName) > maxSocketPath {
		return fmt.Errorf("socket directory %s: path too long for a Unix socket (at most %d bytes with the socket name)", dir, maxSocketPath)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	return chownTo(dir, a)
}

// staleSocketDirAge is how long a socket directory must have been untouched
// before sweepSocketDirs considers it. A server that is starting (or
// retrying) changes its directory within seconds.
const staleSocketDirAge = time.Minute

// sweepSocketDirs removes socket directories left in parent by servers that
// were killed with their Herald (Stop removes them otherwise), so that a
// crash-looping Herald does not litter the temporary folder. Only folders
// that are ours beyond doubt go: our name pattern, owned by the server
// account, untouched for a while, and holding a socket lock file whose
// postmaster is gone. Errors are ignored; this is housekeeping.
func sweepSocketDirs(parent string, a *account) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	uid := uint32(os.Getuid())
	if a != nil {
		uid = a.uid
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), socketDirPrefix)
		if !ok || !e.IsDir() || strings.Trim(rest, "0123456789") != "" || rest == "" {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		fi, err := os.Stat(dir)
		if err != nil || time.Since(fi.ModTime()) < staleSocketDirAge {
			continue
		}
		if owner, ok := ownerUID(fi); !ok || owner != uid {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, socketName+".lock"))
		if err != nil {
			continue
		}
		first, _, _ := strings.Cut(string(b), "\n")
		pid, err := strconv.Atoi(strings.TrimSpace(first))
		if err != nil || pidAlive(pid) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}
