package pglocal

// The server process: starting it (tied to Herald's life), waiting until it
// accepts connections, and stopping it with escalating signals.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one started child and its exit status.
type process struct {
	cmd     *exec.Cmd
	pid     int
	done    chan struct{} // closed once the child has been reaped
	err     error         // result of Wait; valid after done is closed
	logDone chan struct{} // closed when its output has been forwarded (nil if not piped)
}

// terminate escalates from fast shutdown to SIGKILL.
func (c *Cluster) terminate(p *process) error {
	// Fast shutdown: active transactions are rolled back, the server
	// checkpoints and exits. The checkpoint makes the next start quick.
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop postgres: send SIGINT: %w", err)
	}
	if waitDone(p, c.opts.StopTimeout) {
		if p.err != nil {
			return fmt.Errorf("stop postgres: fast shutdown: %w; last server log lines:\n%s", p.err, c.tailAfterExit(p))
		}
		return nil
	}

	// Immediate shutdown: no checkpoint, the next start runs crash
	// recovery, which is safe.
	c.logger.Warn("PostgreSQL fast shutdown timed out; forcing an immediate shutdown", "timeout", c.opts.StopTimeout)
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	if waitDone(p, 5*time.Second) {
		return fmt.Errorf("stop postgres: fast shutdown did not finish within %v; used immediate shutdown", c.opts.StopTimeout)
	}
	// The server's process group, then its backends (groups of their
	// own): none may keep shared memory attached, or the next start
	// refuses to run.
	_ = signalGroup(p.pid, syscall.SIGKILL)
	<-p.done
	killOrphans(c.dataDir)
	return fmt.Errorf("stop postgres: server ignored fast and immediate shutdown; killed it")
}

// waitDone waits up to d for the process to exit.
func waitDone(p *process, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// waitLog waits briefly for the server's output to be forwarded. Backends
// that outlive a killed postmaster keep the pipe open; they exit on their own
// shortly after, and Stop does not wait for them.
func (c *Cluster) waitLog(p *process) {
	if p.logDone == nil {
		return
	}
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-p.logDone:
	case <-t.C:
	}
}

// tailAfterExit returns the last log lines of an exited process, once its
// final lines (the reason it exited) have been read.
func (c *Cluster) tailAfterExit(p *process) string {
	c.waitLog(p)
	return c.log.lastLines()
}

// startLocked starts cmd from a goroutine locked to its OS thread, which
// stays alive (blocked in Wait) for the life of the child. On Linux the
// parent-death signal fires when the forking *thread* exits, and the Go
// runtime may retire idle threads at any time; without the lock the server
// could be killed while Herald is alive and well.
func startLocked(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked on purpose: when this goroutine returns, the
		// runtime ends the thread, which is harmless once the child is
		// reaped, and never reuses it for other goroutines.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// launchAndWait starts the server and waits until it accepts connections.
// One failure is retried: after a crash, backends of the old server may
// still be exiting and keep its shared memory attached, and PostgreSQL
// refuses to start until they are gone.
func (c *Cluster) launchAndWait(ctx context.Context) error {
	const retryFor = 10 * time.Second
	deadline := time.Now().Add(retryFor)
	for attempt := 1; ; attempt++ {
		// Judge each attempt by its own log lines only.
		c.log.reset()
		p, err := c.launch()
		if err != nil {
			return err
		}
		c.setProc(p)
		err = c.waitReady(ctx, p)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
		default:
			// Still running: ctx ended. Do not leave it behind.
			_ = c.terminate(p)
			c.waitLog(p)
			return err
		}
		if c.log.contains("pre-existing shared memory block") && time.Now().Before(deadline) && ctx.Err() == nil {
			c.logger.Info("old PostgreSQL processes still hold shared memory; retrying", "attempt", attempt)
			select {
			case <-ctx.Done():
				return err
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		return err
	}
}

// launch starts the postgres server process.
func (c *Cluster) launch() (*process, error) {
	args := []string{
		"-D", c.dataDir,
		"-k", c.socketDir,
		"-p", strconv.Itoa(Port),
		// No TCP at all: the trust authentication must stay local.
		"-c", "listen_addresses=",
		"-c", "log_line_prefix=" + logLinePrefix,
		"-c", "max_connections=" + strconv.Itoa(c.opts.MaxConnections),
	}
	if c.opts.SharedBuffers != "" {
		args = append(args, "-c", "shared_buffers="+c.opts.SharedBuffers)
	}
	if !c.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, k := range slices.Sorted(maps.Keys(c.opts.Settings)) {
		args = append(args, "-c", k+"="+c.opts.Settings[k])
	}

	// A pipe rather than an io.Writer: exec would otherwise copy the output
	// in a goroutine that Wait waits for, and backends outliving a killed
	// postmaster hold the pipe open, so Wait would hang until they exit.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create log pipe: %w", err)
	}
	cmd := exec.Command(c.bins.postgres, args...)
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.Dir = c.dataDir
	cmd.Env = c.env
	cmd.SysProcAttr = sysProcAttr(c.acct)
	p, err := startLocked(cmd)
	_ = w.Close() // the child has its own copy
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("run %s: %w", c.bins.postgres, err)
	}
	p.logDone = make(chan struct{})
	go func() {
		defer close(p.logDone)
		defer r.Close()
		c.log.consume(r)
	}()
	return p, nil
}

// waitReady polls the lock file until the server reports it is ready. The
// postmaster writes "ready" into postmaster.pid once it accepts connections
// (this is how pg_ctl waits too), so no connection attempts, which would
// each log a FATAL during startup, are needed.
func (c *Cluster) waitReady(ctx context.Context, p *process) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if pid, status, err := readLockFile(c.dataDir); err == nil && pid == p.pid && status == "ready" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for server to accept connections: %w; last server log lines:\n%s", ctx.Err(), c.log.lastLines())
		case <-p.done:
			return fmt.Errorf("server exited during startup (%v); last server log lines:\n%s", p.err, c.tailAfterExit(p))
		case <-tick.C:
		}
	}
}

// readLockFile returns the pid (line 1) and status (line 8) of
// postmaster.pid.
func readLockFile(dataDir string) (pid int, status string, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, "", err
	}
	lines := strings.Split(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		return 0, "", fmt.Errorf("parse postmaster.pid: %w", err)
	}
	if len(lines) >= 8 {
		status = strings.TrimSpace(lines[7])
	}
	return pid, status, nil
}

// clearStaleLock deals with a postmaster.pid left by a server that did not
// shut down cleanly. PostgreSQL itself ignores the file when no process has
// that pid, but in containers pids are reused quickly, and a lock naming an
// unrelated live process (or an unreaped zombie) makes the server refuse to
// start. Such a lock is removed; a live server for this data directory is
// reported instead.
func (c *Cluster) clearStaleLock(ctx context.Context) error {
	lock := filepath.Join(c.dataDir, "postmaster.pid")
	deadline := time.Now().Add(3 * time.Second)
	for {
		pid, _, err := readLockFile(c.dataDir)
		if err != nil || pid <= 0 {
			return nil // no lock, or one PostgreSQL will judge itself
		}
		state, cmdline, ok := inspectProcess(pid)
		if !ok {
			return nil
		}
		if state == procPostgres && strings.Contains(cmdline, c.dataDir) {
			// Maybe the server of a Herald killed a moment ago, which
			// the parent-death signal is taking down: give it a moment.
			if time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return fmt.Errorf("a PostgreSQL server (pid %d) is already running on data directory %s; is another Herald using it?", pid, c.dataDir)
		}
		c.logger.Info("removing stale PostgreSQL lock file", "file", lock, "pid", pid)
		if err := os.Remove(lock); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale lock file: %w", err)
		}
		return nil
	}
}
