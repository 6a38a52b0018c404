package pglocal

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// State is what a cluster's server is doing.
type State string

// The states of a cluster.
const (
	// StateRunning: the server accepts connections.
	StateRunning State = "running"
	// StateRestarting: the server exited on its own and the supervisor is
	// starting it again.
	StateRestarting State = "restarting"
	// StateFailed: restarting has failed for so long (FailAfter attempts)
	// that the supervisor does not expect to succeed; it keeps trying, but
	// whoever runs Herald should restart or inspect the machine.
	StateFailed State = "failed"
	// StateStopped: Stop was called.
	StateStopped State = "stopped"
)

// Health describes the server of a cluster.
type Health struct {
	State State
	// Since is when the cluster entered State.
	Since time.Time
	// Restarts counts the times the supervisor restarted the server.
	Restarts int
	// LastExit says how the server last exited on its own ("" if never).
	LastExit string
	// LastError is why the last restart attempt failed (nil if it did not).
	LastError error
}

// Health reports the server's state; see Options.Supervise.
func (c *Cluster) Health() Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.health
}

// Restart backoff: the first attempt is immediate (a crashed server usually
// comes back at once), later ones wait longer, up to restartMaxDelay.
const (
	restartFirstDelay = 500 * time.Millisecond
	restartMaxDelay   = 30 * time.Second
	// restartFailAfter consecutive failed attempts (about five minutes of
	// trying) make the cluster report StateFailed.
	restartFailAfter = 14
	// restartTimeout bounds one attempt, crash recovery included.
	restartTimeout = 5 * time.Minute
)

// restartDelay is the wait before restart attempt n (1-based).
func restartDelay(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := restartFirstDelay << min(n-2, 10)
	return min(d, restartMaxDelay)
}

// supervise waits for the server to exit on its own and starts it again,
// until Stop.
func (c *Cluster) supervise() {
	defer close(c.supervised)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stopping
		cancel()
	}()
	for {
		p := c.current()
		select {
		case <-c.stopping:
			return
		case <-p.done:
		}
		select {
		case <-c.stopping:
			return // Stop's own signal ended it
		default:
		}
		down := time.Now()
		// Backends of the dead postmaster normally notice its death and
		// exit, but one waiting on a lock held by a process that died with
		// it never wakes, and keeps the old shared memory attached: the
		// new server would refuse to start.
		if n := killOrphans(c.dataDir); n > 0 {
			c.logger.Warn("killed backends the dead PostgreSQL server left behind", "processes", n)
		}
		exit := describeExit(p.err)
		c.logger.Error("PostgreSQL exited unexpectedly; restarting it",
			"pid", p.pid, "exit", exit, "last_log_lines", c.tailAfterExit(p))
		c.mu.Lock()
		c.health = Health{State: StateRestarting, Since: down, Restarts: c.health.Restarts, LastExit: exit}
		c.mu.Unlock()
		for attempt := 1; ; attempt++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(restartDelay(attempt)):
			}
			err := c.relaunch(ctx)
			if ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			if err == nil {
				c.health = Health{State: StateRunning, Since: time.Now(), Restarts: c.health.Restarts + 1, LastExit: exit}
				c.mu.Unlock()
				c.logger.Info("PostgreSQL restarted", "pid", c.PID(), "attempt", attempt,
					"down_for", time.Since(down).Round(time.Millisecond))
				break
			}
			c.health.LastError = err
			if attempt >= restartFailAfter && c.health.State != StateFailed {
				c.health.State, c.health.Since = StateFailed, time.Now()
			}
			state := c.health.State
			c.mu.Unlock()
			c.logger.Error("PostgreSQL restart failed; trying again", "attempt", attempt, "state", state,
				"retry_in", restartDelay(attempt+1), "error", err)
		}
	}
}

// relaunch starts the server again on the same data and socket folders.
func (c *Cluster) relaunch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	// Another Herald's housekeeping may have swept the socket folder
	// while the server was down.
	if err := ensureSocketDir(c.socketDir, c.acct); err != nil {
		return err
	}
	if err := c.clearStaleLock(ctx); err != nil {
		return err
	}
	return c.launchAndWait(ctx)
}

// describeExit turns a server's exit into words for the log: its exit code,
// or the signal that killed it.
func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return "exit code " + strconv.Itoa(ee.ExitCode())
	}
	if err == nil {
		return "exit code 0"
	}
	return err.Error()
}
