package faults

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pglocal"
)

// probe polls /healthz and /readyz every 50 ms until stopped, and remembers
// whether /healthz ever failed and whether /readyz was ever not ready.
type probe struct {
	unhealthy, unready atomic.Int64
	stop               chan struct{}
	done               chan struct{}
}

func startProbe(n *node) *probe {
	p := &probe{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if n.status("/healthz") != http.StatusOK {
				p.unhealthy.Add(1)
			}
			if n.status("/readyz") != http.StatusOK {
				p.unready.Add(1)
			}
		}
	}()
	return p
}

func (p *probe) end() {
	close(p.stop)
	<-p.done
}

// checkOutage runs load through an outage that begins with fault(); after
// recover() returns (the database is back, or was never touched again) it
// checks that Herald accepted events again within 30 s, answered only 202
// or 503-with-Retry-After meanwhile, and delivered every event it accepted.
func checkOutage(t *testing.T, n *node, rc *receiver, producer string, fault func(), recover func()) {
	t.Helper()
	l := startLoad(n, producer, 4)
	pr := startProbe(n)
	if !waitFor(30*time.Second, func() bool { return rc.got() >= 50 }) {
		t.Fatalf("no deliveries before the fault (%d)", rc.got())
	}
	faultAt := time.Now()
	fault()
	recover()
	back := time.Now()
	if !waitFor(60*time.Second, func() bool { return l.acceptedSince(back) }) {
		t.Fatalf("Herald accepts no events 60 s after the database came back")
	}
	resumed := time.Since(faultAt)
	time.Sleep(2 * time.Second) // more load after recovery
	accepted, statuses, noRetryAfter := l.end()
	pr.end()
	if resumed > 30*time.Second+time.Since(faultAt)-time.Since(back) {
		t.Errorf("events accepted again %s after the fault, want within 30 s of the database's return", resumed)
	}
	for code, k := range statuses {
		if code != http.StatusServiceUnavailable && code != 0 {
			t.Errorf("%d answers with status %d during the outage; want only 202 or 503", k, code)
		}
	}
	if noRetryAfter > 0 {
		t.Errorf("%d answers 503 without Retry-After", noRetryAfter)
	}
	if statuses[http.StatusServiceUnavailable] == 0 && statuses[0] == 0 {
		t.Errorf("no request was refused during the outage: the fault did not bite")
	}
	want := make([]string, 0, len(accepted))
	after := 0
	for id, at := range accepted {
		want = append(want, id)
		if at.After(back) {
			after++
		}
	}
	if !waitFor(90*time.Second, func() bool { return len(rc.missing(want)) == 0 }) {
		miss := rc.missing(want)
		t.Fatalf("%d of %d accepted events never delivered (e.g. %s)", len(miss), len(want), miss[0])
	}
	if pr.unhealthy.Load() > 0 {
		t.Errorf("/healthz failed %d times: a database that comes back must not make Herald unhealthy", pr.unhealthy.Load())
	}
	if pr.unready.Load() == 0 {
		t.Errorf("/readyz never said not ready during the outage")
	}
	rep := rc.report()
	t.Logf("outage: %d events accepted (%d after the database was back), %d refused with 503, %d unanswered; accepting again %s after the fault; all accepted delivered; %d delivered twice, 0 lost",
		len(accepted), after, statuses[http.StatusServiceUnavailable], statuses[0], resumed.Round(100*time.Millisecond), len(rep.duplicated))
}

// TestEmbeddedPostgresKilledUnderLoad kills the PostgreSQL server that
// `herald serve` started for itself (kill -9 of the postmaster) while
// producers send events: Herald logs the exit, restarts the server, and
// accepts and delivers again by itself.
func TestEmbeddedPostgresKilledUnderLoad(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, 0)
	env := baseEnv(t, freeAddr(t))
	n := startNode(t, env) // no database configured: its own PostgreSQL
	producer, _ := n.world(rc.url())
	pidFile := filepath.Join(env["HERALD_DATA_DIR"], "postgres", "postmaster.pid")

	checkOutage(t, n, rc, producer, func() {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill postmaster %d: %v", pid, err)
		}
	}, func() {
		// Herald brings it back by itself.
	})
	logs := n.logs.String()
	if !strings.Contains(logs, "PostgreSQL exited unexpectedly") || !strings.Contains(logs, "killed by signal killed") {
		t.Errorf("the server's death was not logged with its cause")
	}
	if !strings.Contains(logs, "PostgreSQL restarted") {
		t.Errorf("the restart was not logged")
	}
}

// TestExternalPostgresRestartUnderLoad stops an external PostgreSQL (the
// operator's own, named by HERALD_DATABASE_URL) while producers send
// events, keeps it down, and starts it again: Herald answers 503 with
// Retry-After meanwhile, stores nothing half-way, and resumes ingest and
// delivery by itself.
func TestExternalPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	down := 5 * time.Second
	if full() {
		down = time.Minute
	}
	opts := pglocal.Options{DataDir: filepath.Join(publicDir(t, "herald-faults-pg"), "pg"), Durable: true,
		SocketDir: filepath.Join(publicDir(t, "hpgs"), "s")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := pglocal.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Stop() })

	rc := newReceiver(t, 0)
	env := baseEnv(t, freeAddr(t))
	env["HERALD_DATABASE_URL"] = db.ConnString(pglocal.Database)
	n := startNode(t, env)
	producer, _ := n.world(rc.url())

	checkOutage(t, n, rc, producer, func() {
		if err := db.Stop(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
		time.Sleep(down)
	}, func() {
		if db, err = pglocal.Start(ctx, opts); err != nil {
			t.Fatalf("start PostgreSQL again: %v", err)
		}
	})
}
