package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
)

// heraldBin is the herald binary built once for all tests.
var heraldBin string

func TestMain(m *testing.M) {
	if bin := os.Getenv("HERALD_FAULTS_BIN"); bin != "" {
		// Test a given binary (a release, or an older commit to see a
		// test fail) instead of building this tree.
		heraldBin = bin
		os.Exit(heraldtest.Main(m, postgres.MigrateDSN))
	}
	dir, err := os.MkdirTemp("", "herald-faults-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	heraldBin = filepath.Join(dir, "herald")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	build := exec.Command(gobin, "build", "-o", heraldBin, "github.com/heraldhq/herald/cmd/herald")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: build herald:", err)
		os.Exit(1)
	}
	code := heraldtest.Main(m, postgres.MigrateDSN)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// full says whether to run the sizes of issue 9 (HERALD_FAULTS=full)
// rather than the short form `go test ./...` runs.
func full() bool { return os.Getenv("HERALD_FAULTS") == "full" }

const (
	adminCred = "admin:admin-secret-for-fault-tests"
	eventType = "com.example.fault.tested"
)

// masterKey is one key for every node of a test, so a restarted node opens
// the secrets its predecessor sealed.
func masterKey(t *testing.T) string {
	t.Helper()
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k[:])
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// publicDir makes a temporary folder the PostgreSQL account can enter
// (tests run as root; the embedded server runs as "postgres").
func publicDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// node is one `herald serve` process.
type node struct {
	t    *testing.T
	addr string
	// consumer is the consumer's credential once world has run.
	consumer string
	env      []string
	cmd      *exec.Cmd
	logs     *lockedBuffer
	done     chan struct{}
	err      error // Wait's result, once done is closed
}

// startNode runs `herald serve` with env (on top of a minimal environment)
// and waits until it answers /readyz.
func startNode(t *testing.T, env map[string]string) *node {
	t.Helper()
	n := &node{t: t, addr: env["HERALD_ADDR"], logs: &lockedBuffer{}}
	for k, v := range env {
		n.env = append(n.env, k+"="+v)
	}
	n.env = append(n.env, "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"), "TMPDIR="+os.TempDir())
	n.start()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Signal(syscall.SIGKILL)
			<-n.done
		}
		if t.Failed() || os.Getenv("HERALD_FAULTS_LOGS") != "" {
			t.Logf("herald log (%s), last 8 KiB:\n%s", n.addr, n.logs.tail(64<<10))
		}
	})
	return n
}

func (n *node) start() {
	n.t.Helper()
	n.cmd = exec.Command(heraldBin, "serve")
	n.cmd.Env = n.env
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	n.done = make(chan struct{})
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("start herald: %v", err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	deadline := time.Now().Add(90 * time.Second)
	for !n.ready() {
		select {
		case <-n.done:
			n.t.Fatalf("herald exited during start (%v):\n%s", n.err, n.logs.tail(8<<10))
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("herald not ready after 90s:\n%s", n.logs.tail(8<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart starts the process again with the same settings.
func (n *node) restart() {
	n.t.Helper()
	select {
	case <-n.done:
	default:
		n.t.Fatal("restart of a node that is still running")
	}
	n.start()
}

func (n *node) url(path string) string { return "http://" + n.addr + path }

// status GETs path and returns the status code (0 when unreachable).
func (n *node) status(path string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(n.url(path))
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (n *node) ready() bool { return n.status("/readyz") == http.StatusOK }

// signal sends sig to the process.
func (n *node) signal(sig syscall.Signal) {
	n.t.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		n.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit, returning its exit code (-1 when a
// signal ended it) and how long it took.
func (n *node) wait(limit time.Duration) (int, time.Duration) {
	n.t.Helper()
	began := time.Now()
	select {
	case <-n.done:
	case <-time.After(limit):
		n.t.Fatalf("herald did not exit within %s:\n%s", limit, n.logs.tail(8<<10))
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(n.err, &ee) {
		code = ee.ExitCode()
	}
	return code, time.Since(began)
}

// api calls the API with HTTP Basic credentials "key:secret".
func (n *node) api(method, path, cred, contentType string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, n.url(path), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	k, s, _ := strings.Cut(cred, ":")
	req.SetBasicAuth(k, s)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c := http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// must calls the API and fails the test unless it answers want.
func (n *node) must(want int, method, path, cred string, body any) map[string]any {
	n.t.Helper()
	b, _ := json.Marshal(body)
	code, _, out, err := n.api(method, path, cred, "application/json", b)
	if err != nil || code != want {
		n.t.Fatalf("%s %s: %d %s (%v), want %d", method, path, code, out, err, want)
	}
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return m
}

// world creates a tenant, a producer, a consumer, the event type and the
// consumer's endpoint to url; it returns the producer's credential and the
// endpoint's id.
func (n *node) world(url string) (producer, endpoint string) {
	n.t.Helper()
	tenant := n.must(201, "POST", "/v1/tenants", adminCred, map[string]any{"name": "faults"})["id"].(string)
	p := n.must(201, "POST", "/v1/clients", adminCred, map[string]any{"tenant": tenant, "name": "producer", "roles": []string{"producer"}})
	c := n.must(201, "POST", "/v1/clients", adminCred, map[string]any{"tenant": tenant, "name": "consumer", "roles": []string{"consumer"}})
	n.must(201, "PUT", "/v1/event-types/"+eventType, adminCred, map[string]any{
		"tenant": tenant, "producers": []string{p["id"].(string)}, "consumers": []string{c["id"].(string)},
		"schema": map[string]any{"type": "object", "required": []string{"n"}},
	})
	n.consumer = c["key"].(string) + ":" + c["secret"].(string)
	ep := n.must(201, "POST", "/v1/endpoints", n.consumer, map[string]any{"url": url, "types": []string{eventType}})
	return p["key"].(string) + ":" + p["secret"].(string), ep["id"].(string)
}

// event is one CloudEvent of the test type with id.
func event(id string) map[string]any {
	return map[string]any{"specversion": "1.0", "id": id, "source": "/faults", "type": eventType,
		"datacontenttype": "application/json", "data": map[string]any{"n": id}}
}

// produce sends ids as batches of batchSize and fails the test unless every
// batch is accepted.
func (n *node) produce(producer string, ids []string, batchSize int) {
	n.t.Helper()
	for len(ids) > 0 {
		k := min(batchSize, len(ids))
		evs := make([]map[string]any, k)
		for i, id := range ids[:k] {
			evs[i] = event(id)
		}
		b, _ := json.Marshal(evs)
		code, _, out, err := n.api("POST", "/v1/events", producer, "application/cloudevents-batch+json", b)
		if err != nil || code != http.StatusAccepted {
			n.t.Fatalf("produce: %d %s (%v)", code, out, err)
		}
		ids = ids[k:]
	}
}

// eventIDs returns n event ids with a prefix.
func eventIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%06d", prefix, i)
	}
	return ids
}

// load produces single events from several goroutines until stopped,
// remembering which were accepted (202) and every other answer.
type load struct {
	n        *node
	producer string
	next     atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup

	mu        sync.Mutex
	accepted  map[string]time.Time // id → when its request was sent
	statuses  map[int]int          // answers other than 202, by status (0: no answer)
	noRetryAf int                  // 503 answers without Retry-After
	lastOK    time.Time
}

func startLoad(n *node, producer string, workers int) *load {
	l := &load{n: n, producer: producer, stop: make(chan struct{}), accepted: map[string]time.Time{}, statuses: map[int]int{}}
	for range workers {
		l.wg.Go(l.run)
	}
	return l
}

func (l *load) run() {
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		id := fmt.Sprintf("load-%07d", l.next.Add(1))
		b, _ := json.Marshal(event(id))
		began := time.Now()
		code, h, _, err := l.n.api("POST", "/v1/events", l.producer, "application/cloudevents+json", b)
		l.mu.Lock()
		switch {
		case err == nil && code == http.StatusAccepted:
			l.accepted[id] = began
			l.lastOK = began
		case err != nil:
			l.statuses[0]++
		default:
			l.statuses[code]++
			if code == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
				l.noRetryAf++
			}
		}
		l.mu.Unlock()
		if err != nil || code != http.StatusAccepted {
			time.Sleep(20 * time.Millisecond) // as a client honouring Retry-After would, roughly
		}
	}
}

// acceptedSince says whether a request sent after t was accepted.
func (l *load) acceptedSince(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastOK.After(t)
}

// end stops the producers and returns the accepted ids and other answers.
func (l *load) end() (map[string]time.Time, map[int]int, int) {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted, l.statuses, l.noRetryAf
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

func (l *lockedBuffer) tail(n int) string {
	s := l.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// waitFor polls cond every 50 ms until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// baseEnv is the environment every node of a test shares.
func baseEnv(t *testing.T, addr string) map[string]string {
	return map[string]string{
		"HERALD_ADDR": addr, "HERALD_BOOTSTRAP_ADMIN": adminCred, "HERALD_MASTER_KEY": masterKey(t),
		"HERALD_ALLOW_PRIVATE_TARGETS": "true", "HERALD_VERIFY_ENDPOINTS": "false",
		"HERALD_DATA_DIR": publicDir(t, "herald-faults-data"), "HERALD_LOG_FORMAT": "json",
		"HERALD_RETRY_SCHEDULE": "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
	}
}

// dbCount runs a count query against dsn.
func dbCount(t *testing.T, dsn, sql string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := postgres.OpenPool(ctx, dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}
