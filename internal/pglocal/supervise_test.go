//go:build unix

package pglocal

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitState waits until the cluster reports want, failing the test after
// d.
func waitState(t *testing.T, c *Cluster, want State, d time.Duration) Health {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		h := c.Health()
		if h.State == want {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster state %s after %s, want %s (last error: %v)", h.State, d, want, h.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSupervisedServerIsRestarted kills the postmaster of a supervised
// cluster twice, the way the kernel's OOM killer or an operator would: each
// time the supervisor logs the exit with the server's last log lines, starts
// it again on the same socket (so clients' connection strings stay valid),
// and committed data is still there.
func TestSupervisedServerIsRestarted(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	c := startCluster(t, Options{DataDir: testDataDir(t), Settings: crashSafeCommits, Supervise: true, Logger: logs.logger()})
	if h := c.Health(); h.State != StateRunning || h.Restarts != 0 {
		t.Fatalf("health after start = %+v", h)
	}
	dsn := c.ConnString(Database)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "CREATE TABLE survivor (v int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())

	for round := 1; round <= 2; round++ {
		old := c.PID()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatalf("kill postmaster: %v", err)
		}
		h := waitState(t, c, StateRunning, 30*time.Second)
		for h.Restarts < round {
			time.Sleep(20 * time.Millisecond)
			h = waitState(t, c, StateRunning, 30*time.Second)
		}
		if c.PID() == old {
			t.Fatalf("round %d: same postmaster pid %d after restart", round, old)
		}
		if h.LastExit != "killed by signal killed" {
			t.Errorf("round %d: LastExit = %q", round, h.LastExit)
		}
		conn, err := pgx.Connect(t.Context(), dsn) // the same connection string
		if err != nil {
			t.Fatalf("round %d: connect after restart: %v", round, err)
		}
		if _, err := conn.Exec(t.Context(), "INSERT INTO survivor VALUES ($1)", round); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM survivor").Scan(&n); err != nil || n != round {
			t.Fatalf("round %d: %d rows (%v), want %d", round, n, err, round)
		}
		conn.Close(context.Background())
	}
	out := logs.String()
	if !strings.Contains(out, "PostgreSQL exited unexpectedly; restarting it") || !strings.Contains(out, "killed by signal killed") {
		t.Errorf("the exit was not logged with its cause:\n%s", out)
	}
	if !strings.Contains(out, "last_log_lines") {
		t.Errorf("the exit was logged without the server's last lines:\n%s", out)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop after restarts: %v", err)
	}
	if h := c.Health(); h.State != StateStopped || h.Restarts != 2 {
		t.Errorf("health after Stop = %+v", h)
	}
}

// TestRestartKillsOrphanedBackends: a backend that cannot notice its
// postmaster's death (here stopped with SIGSTOP; in production, one waiting
// on a lock held by a process that died with it) keeps the old shared
// memory attached, and PostgreSQL refuses to start over it. The supervisor
// kills the dead server's whole process group before it restarts it: the
// server comes back and the orphan is gone.
func TestRestartKillsOrphanedBackends(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{DataDir: testDataDir(t), Supervise: true})
	conn, err := pgx.Connect(t.Context(), c.ConnString(Database))
	if err != nil {
		t.Fatal(err)
	}
	var backend int
	if err := conn.QueryRow(t.Context(), "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(backend, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop backend %d: %v", backend, err)
	}
	if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
		t.Fatalf("kill postmaster: %v", err)
	}
	h := waitState(t, c, StateRunning, 30*time.Second)
	for h.Restarts < 1 {
		time.Sleep(20 * time.Millisecond)
		h = waitState(t, c, StateRunning, 30*time.Second)
	}
	deadline := time.Now().Add(5 * time.Second)
	for pidAlive(backend) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(backend, syscall.SIGKILL)
			t.Fatalf("the orphaned backend %d outlived the restart", backend)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop after the restart: %v", err)
	}
}

// TestSupervisorGivesWayToStop: Stop while the supervisor is waiting to
// restart a dead server returns promptly and leaves no server behind.
func TestSupervisorGivesWayToStop(t *testing.T) {
	t.Parallel()
	dir := testDataDir(t)
	c := startCluster(t, Options{DataDir: dir, Supervise: true})
	// Stop lands while the supervisor is starting the server again.
	if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	done := make(chan struct{})
	go func() {
		_ = c.Stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Stop did not return while the supervisor was restarting")
	}
	time.Sleep(200 * time.Millisecond)
	if pid, _, err := readLockFile(dir); err == nil {
		if st, _, ok := inspectProcess(pid); ok && st == procPostgres {
			t.Fatalf("a server (pid %d) is still running after Stop", pid)
		}
	}
}

// TestSupervisorReportsFailure: a server that cannot be started again makes
// the cluster report StateFailed after repeated attempts, with the reason,
// and a later successful attempt brings it back to StateRunning.
func TestSupervisorReportsFailure(t *testing.T) {
	t.Parallel()
	dir := testDataDir(t)
	c := startCluster(t, Options{DataDir: dir, Supervise: true})
	conf := filepath.Join(dir, "postgresql.conf")
	orig, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	// A setting the server refuses at start makes every restart fail.
	if err := os.WriteFile(conf, append(append([]byte{}, orig...), "\nshared_buffers = 'lots'\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h := waitState(t, c, StateRestarting, 10*time.Second)
	if h.LastExit == "" {
		t.Errorf("restarting without the exit's cause: %+v", h)
	}
	// restartFailAfter attempts with backoff take minutes; the state
	// machine is checked through restartDelay and the recorded error.
	deadline := time.Now().Add(20 * time.Second)
	for c.Health().LastError == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Health().LastError; err == nil || !strings.Contains(err.Error(), "shared_buffers") {
		t.Fatalf("LastError = %v, want the server's refusal of shared_buffers", err)
	}
	if err := os.WriteFile(conf, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, StateRunning, 60*time.Second)
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func TestRestartDelay(t *testing.T) {
	t.Parallel()
	want := []time.Duration{0, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := restartDelay(i + 1); got != w {
			t.Errorf("restartDelay(%d) = %s, want %s", i+1, got, w)
		}
	}
	total := time.Duration(0)
	for n := 1; n <= restartFailAfter; n++ {
		total += restartDelay(n)
	}
	if total < 3*time.Minute || total > 10*time.Minute {
		t.Errorf("failed state reached after %s of trying; want a few minutes", total)
	}
}
