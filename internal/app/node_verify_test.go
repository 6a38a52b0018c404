package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// nodeModules installs the standardwebhooks npm package once per machine
// (or uses HERALD_NODE_MODULES, a folder holding node_modules) and returns
// the node_modules path.
func nodeModules(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("HERALD_NODE_MODULES"); dir != "" {
		return filepath.Join(dir, "node_modules")
	}
	dir := filepath.Join(os.TempDir(), "herald-standardwebhooks-npm")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks", "package.json")); err == nil {
		return filepath.Join(dir, "node_modules")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pkg, err := os.ReadFile("../../scripts/verify-node/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--silent")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install standardwebhooks (needs Node.js and the npm registry): %v\n%s", err, out)
	}
	return filepath.Join(dir, "node_modules")
}

// TestNodeConsumerVerifies: a live delivery verifies with the npm library
// standardwebhooks, run by scripts/verify-node/verify.js under Node.js.
func TestNodeConsumerVerifies(t *testing.T) {
	t.Parallel()
	modules := nodeModules(t)
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	var mu sync.Mutex
	var got struct {
		Secret  string            `json:"secret"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	rc.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.Body = string(b)
		got.Headers = map[string]string{}
		for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			got.Headers[k] = r.Header.Get(k)
		}
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	})
	_, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	e.must(202, e.send(w.producer, orderEvent("node-1", 3)))
	eventually(t, 10*time.Second, "delivery", func() bool { mu.Lock(); defer mu.Unlock(); return got.Body != "" })
	mu.Lock()
	got.Secret = secret
	doc, _ := json.Marshal(got)
	mu.Unlock()
	file := filepath.Join(t.TempDir(), "delivery.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(path string) (string, error) {
		cmd := exec.Command("node", "../../scripts/verify-node/verify.js", path)
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(file); err != nil || !strings.Contains(out, "verified node-1") {
		t.Fatalf("node verification: %v\n%s", err, out)
	}
	// A tampered body must fail, or the check above proves nothing.
	got.Body = strings.Replace(got.Body, `"qty":3`, `"qty":4`, 1)
	doc, _ = json.Marshal(got)
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(file); err == nil {
		t.Fatalf("tampered delivery verified:\n%s", out)
	}
}
