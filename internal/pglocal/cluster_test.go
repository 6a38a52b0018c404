//go:build unix

package pglocal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testDataDir returns a not-yet-existing data directory inside t.TempDir().
// The testing package creates the per-test parent of t.TempDir() with mode
// 0700; when the server runs as the postgres user (tests running as root) it
// could not reach the data directory, so that folder is opened for
// traversal (it is ours, and removed after the test).
func testDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatalf("open temp dir for the postgres user: %v", err)
		}
	}
	return filepath.Join(dir, "pg")
}

// testLogger sends the server's log to the test output; it only shows for
// failing tests or with -v. Lines arriving after the test finished are
// dropped (the testing package panics on them).
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{out: t.Output()}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.closed = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu     sync.Mutex
	closed bool
	out    interface{ Write([]byte) (int, error) }
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	return w.out.Write(p)
}

// startCluster starts a cluster and stops it when the test ends.
func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func connect(t *testing.T, c *Cluster, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.ConnString(db))
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func exec1(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryString(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(t.Context(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	dataDir := testDataDir(t)

	c := startCluster(t, Options{DataDir: dataDir, Settings: map[string]string{"work_mem": "7MB"}, MaxConnections: 50})
	if got := len(filepath.Join(c.SocketDir(), socketName)); got > maxSocketPath {
		t.Errorf("socket path is %d bytes, limit %d", got, maxSocketPath)
	}
	conn := connect(t, c, Database) // Start created the herald database
	var one int
	if err := conn.QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	for setting, want := range map[string]string{
		"fsync":              "off",
		"synchronous_commit": "off",
		"full_page_writes":   "off",
		"work_mem":           "7MB",
		"max_connections":    "50",
		"listen_addresses":   "",
		"server_encoding":    "UTF8",
		"lc_collate":         "C",
	} {
		if got := queryString(t, conn, "SELECT current_setting($1)", setting); got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	exec1(t, conn, "CREATE TABLE kept (v text)")
	exec1(t, conn, "INSERT INTO kept VALUES ('before restart')")
	_ = conn.Close(t.Context())

	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if _, err := os.Stat(c.SocketDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket dir still there after Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid left after a clean stop: %v", err)
	}

	// Same data directory, now durable: the data is still there.
	c2 := startCluster(t, Options{DataDir: dataDir, Durable: true})
	conn2 := connect(t, c2, Database)
	if got := queryString(t, conn2, "SELECT v FROM kept"); got != "before restart" {
		t.Errorf("after restart: %q", got)
	}
	if got := queryString(t, conn2, "SELECT current_setting('fsync')"); got != "on" {
		t.Errorf("durable cluster has fsync=%s", got)
	}
	_ = conn2.Close(t.Context())
	if err := c2.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// crashSafeCommits makes commits survive a crash of the server (not of the
// operating system, which fsync=off gives up): with the test default
// synchronous_commit=off, the last commits of a killed server may be lost,
// which is not what the crash tests are about. Cheaper than Durable, which
// also makes initdb sync everything to disk.
var crashSafeCommits = map[string]string{"synchronous_commit": "on"}

// TestServerCrash kills the postmaster alone, the way the OOM killer would:
// its backends are left to notice and exit on their own, and the restart
// must cope with the stale lock file and shared memory they may still hold.
func TestServerCrash(t *testing.T) {
	t.Parallel()
	dataDir := testDataDir(t)
	c := startCluster(t, Options{DataDir: dataDir, Settings: crashSafeCommits})
	conn := connect(t, c, Database)
	exec1(t, conn, "CREATE TABLE survivor (v text)")
	exec1(t, conn, "INSERT INTO survivor VALUES ('committed before crash')")

	if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
		t.Fatalf("kill postmaster: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the server was killed")
	}
	if err := c.Stop(); err == nil {
		t.Error("Stop after a crash returned nil, want an error reporting the exit")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); err != nil {
		t.Logf("no stale postmaster.pid after SIGKILL (%v); the test covers less than intended", err)
	}

	c2 := startCluster(t, Options{DataDir: dataDir})
	conn2 := connect(t, c2, Database)
	if got := queryString(t, conn2, "SELECT v FROM survivor"); got != "committed before crash" {
		t.Errorf("after crash: %q", got)
	}
}

// TestHeraldKilled kills a whole process running a cluster (as SIGKILL of
// Herald would): the server must die with it, and a new process must be able
// to start on the same data directory and find the data.
func TestHeraldKilled(t *testing.T) {
	t.Parallel()
	dataDir := testDataDir(t)

	helper := exec.Command(os.Args[0], "-test.run=^TestHelperServer$", "-test.count=1")
	helper.Env = append(os.Environ(), "PGLOCAL_HELPER_DATADIR="+dataDir)
	helper.Stderr = os.Stderr
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })

	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			// "READY <pid> <socket dir>"
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "READY" {
				n, _ := strconv.Atoi(f[1])
				// A killed process cannot remove its socket folder.
				t.Cleanup(func() { _ = os.RemoveAll(f[2]) })
				ready <- n
			}
		}
		close(ready)
	}()
	var pgPID int
	select {
	case pgPID = <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("helper did not start its cluster in time")
	}
	if pgPID == 0 {
		t.Fatal("helper exited without starting its cluster")
	}

	if err := helper.Process.Kill(); err != nil {
		t.Fatalf("kill helper: %v", err)
	}
	_ = helper.Wait()

	// The parent-death signal must take the server down with its parent.
	deadline := time.Now().Add(10 * time.Second)
	for pidAlive(pgPID) {
		if time.Now().After(deadline) {
			t.Fatalf("postgres (pid %d) survived the death of its parent", pgPID)
		}
		time.Sleep(20 * time.Millisecond)
	}

	c := startCluster(t, Options{DataDir: dataDir})
	conn := connect(t, c, Database)
	if got := queryString(t, conn, "SELECT v FROM from_helper"); got != "written by the killed process" {
		t.Errorf("after restart: %q", got)
	}
}

// TestHelperServer is the process TestHeraldKilled kills; it does nothing in
// a normal test run.
func TestHelperServer(t *testing.T) {
	dataDir := os.Getenv("PGLOCAL_HELPER_DATADIR")
	if dataDir == "" {
		t.Skip("helper process for TestHeraldKilled")
	}
	c, err := Start(t.Context(), Options{DataDir: dataDir, Settings: crashSafeCommits})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	conn, err := pgx.Connect(t.Context(), c.ConnString(Database))
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"CREATE TABLE from_helper (v text)",
		"INSERT INTO from_helper VALUES ('written by the killed process')",
	} {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatal(err)
		}
	}
	// Keep a session open: backends must not keep a dead server's shared
	// memory busy either.
	fmt.Printf("READY %d %s\n", c.PID(), c.SocketDir())
	// Wait to be killed; give up eventually in case the parent test died.
	time.Sleep(2 * time.Minute)
}

func TestNoBinariesInBinDir(t *testing.T) {
	t.Parallel()
	_, err := Start(t.Context(), Options{DataDir: testDataDir(t), BinDir: t.TempDir()})
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", "HERALD_DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// Not parallel: changes PATH and the package's search pattern.
func TestNoBinariesAnywhere(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := distroBinGlob
	distroBinGlob = filepath.Join(t.TempDir(), "*", "bin")
	t.Cleanup(func() { distroBinGlob = old })

	_, err := Start(t.Context(), Options{DataDir: testDataDir(t)})
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
}

// Not parallel: changes PATH and the package's search pattern.
func TestFindBinaries(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "10", "16beta"} {
		fakeInstall(t, filepath.Join(root, v, "bin"))
	}
	// A directory with only initdb does not count.
	if err := os.MkdirAll(filepath.Join(root, "99", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "99", "bin", "initdb"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	old := distroBinGlob
	distroBinGlob = filepath.Join(root, "*", "bin")
	t.Cleanup(func() { distroBinGlob = old })

	check := func(binDir, prefer, want string) {
		t.Helper()
		b, err := findBinaries(binDir, prefer)
		if err != nil {
			t.Fatalf("findBinaries(%q, %q): %v", binDir, prefer, err)
		}
		if b.dir != want {
			t.Errorf("findBinaries(%q, %q) = %s, want %s", binDir, prefer, b.dir, want)
		}
	}
	check("", "", filepath.Join(root, "15", "bin"))     // highest version, numerically
	check("", "9.6", filepath.Join(root, "9.6", "bin")) // the version of an existing cluster
	check("", "12", filepath.Join(root, "15", "bin"))   // preferred version not installed

	onPath := filepath.Join(t.TempDir(), "bin")
	fakeInstall(t, onPath)
	t.Setenv("PATH", onPath)
	check("", "", onPath) // PATH wins over the distribution directories

	explicit := filepath.Join(t.TempDir(), "bin")
	fakeInstall(t, explicit)
	check(explicit, "", explicit)
	if _, err := findBinaries(filepath.Join(root, "99", "bin"), ""); !errors.Is(err, ErrNoBinaries) {
		t.Errorf("incomplete BinDir: err = %v, want ErrNoBinaries", err)
	}
}

func fakeInstall(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUnreachableDataDir(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root switches the server to another user")
	}
	// t.TempDir()'s parent is mode 0700 and owned by root, like /root.
	locked := filepath.Dir(t.TempDir())
	_, err := Start(t.Context(), Options{DataDir: filepath.Join(locked, "deep", "pg")})
	if err == nil {
		t.Fatal("Start succeeded with a data directory the postgres user cannot reach")
	}
	for _, want := range []string{locked, "HERALD_DATA_DIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The folder we created ourselves on the way was made reachable.
	fi, statErr := os.Stat(filepath.Join(locked, "deep"))
	if statErr != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("created folder: %v, %v", fi.Mode(), statErr)
	}
}

func TestDataDirNotEmpty(t *testing.T) {
	t.Parallel()
	dataDir := testDataDir(t)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Options{DataDir: dataDir})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want a not-empty error", err)
	}
}

func TestStartFailureShowsServerLog(t *testing.T) {
	t.Parallel()
	_, err := Start(t.Context(), Options{
		DataDir:  testDataDir(t),
		Settings: map[string]string{"shared_buffers": "not-a-size"},
	})
	if err == nil {
		t.Fatal("Start succeeded with an invalid setting")
	}
	if !strings.Contains(err.Error(), "shared_buffers") {
		t.Errorf("error does not include the server's complaint: %v", err)
	}
}

func TestStaleLockOfUnrelatedProcess(t *testing.T) {
	t.Parallel()
	dataDir := testDataDir(t)
	c := startCluster(t, Options{DataDir: dataDir})
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	// A lock file naming a live process that is not PostgreSQL, as after a
	// container restart where the old server's pid went to someone else.
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Skipf("cannot start a stand-in process: %v", err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	lock := fmt.Sprintf("%d\n%s\n0\n%d\n/tmp\n\n0 0\nready   \n", sleeper.Process.Pid, dataDir, Port)
	if err := os.WriteFile(filepath.Join(dataDir, "postmaster.pid"), []byte(lock), 0o600); err != nil {
		t.Fatal(err)
	}
	c2 := startCluster(t, Options{DataDir: dataDir})
	connect(t, c2, Database)
}

func TestParseLogLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line     string
		level    slog.Level
		pid      int
		severity string
		msg      string
	}{
		{"[123] LOG:  database system is ready to accept connections", slog.LevelDebug, 123, "LOG", "database system is ready to accept connections"},
		{"[9] FATAL:  database \"x\" does not exist", slog.LevelWarn, 9, "FATAL", "database \"x\" does not exist"},
		{"[9] PANIC:  could not write to file", slog.LevelError, 9, "PANIC", "could not write to file"},
		{"[9] FATAL:  terminating connection due to administrator command", slog.LevelDebug, 9, "FATAL", "terminating connection due to administrator command"},
		{"[9] FATAL:  connection to client lost", slog.LevelDebug, 9, "FATAL", "connection to client lost"},
		{"[9] ERROR:  duplicate key", slog.LevelInfo, 9, "ERROR", "duplicate key"},
		{"\tcontinuation line", slog.LevelDebug, 0, "", "\tcontinuation line"},
		{"2024-01-01 LOG:  other prefix", slog.LevelDebug, 0, "", "2024-01-01 LOG:  other prefix"},
	} {
		level, pid, sev, msg := parseLogLine(tc.line)
		if level != tc.level || pid != tc.pid || sev != tc.severity || msg != tc.msg {
			t.Errorf("parseLogLine(%q) = %v %d %q %q", tc.line, level, pid, sev, msg)
		}
	}
}

func TestConnStringQuoting(t *testing.T) {
	t.Parallel()
	c := &Cluster{socketDir: "/tmp/with space/it's"}
	cfg, err := pgx.ParseConfig(c.ConnString(`odd name\`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "/tmp/with space/it's" || cfg.Database != `odd name\` || cfg.User != User || cfg.Port != Port {
		t.Errorf("parsed back as host=%q db=%q user=%q port=%d", cfg.Host, cfg.Database, cfg.User, cfg.Port)
	}
}

func TestSweepSocketDirs(t *testing.T) {
	t.Parallel()
	a, err := serverAccount(DefaultRunAs)
	if err != nil {
		t.Skipf("no server account: %v", err)
	}
	// A pid that certainly belongs to nobody any more.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	parent := t.TempDir()
	old := time.Now().Add(-2 * staleSocketDirAge)
	mk := func(name string, pid int, mtime time.Time) string {
		t.Helper()
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if pid != 0 {
			lock := fmt.Sprintf("%d\n%s\n", pid, dir)
			if err := os.WriteFile(filepath.Join(dir, socketName+".lock"), []byte(lock), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := chownTo(dir, a); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	stale := mk("hpg123", gone.Process.Pid, old)
	keep := []string{
		mk("hpg124", os.Getpid(), old),             // server alive
		mk("hpg125", gone.Process.Pid, time.Now()), // too recent: maybe starting up
		mk("hpg126", 0, old),                       // no lock file: not a server folder
		mk("other127", gone.Process.Pid, old),      // not our name
	}
	sweepSocketDirs(parent, a)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale socket folder not removed: %v", err)
	}
	for _, dir := range keep {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s removed: %v", dir, err)
		}
	}
}
