package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README walkthrough, run as written: its shell blocks are taken from
// README.md and run with bash, curl and jq against `herald serve` (started
// through run with the environment the README's serve command sets) and
// the README's Python receiver, one numbered step at a time, the way a
// reader types them. Only the addresses change: Herald and the receiver
// listen on free ports instead of 8080 and 9000, so the test can run next
// to others. Each step's answer is checked against what the README says it
// shows.

// readmeBlock is one fenced sh block of README.md and the section it is in.
type readmeBlock struct {
	section string
	text    string
}

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeBlock
	section := ""
	var cur *strings.Builder
	for line := range strings.SplitSeq(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case cur == nil && line == "```sh":
			cur = &strings.Builder{}
		case cur != nil && line == "```":
			out = append(out, readmeBlock{section: section, text: cur.String()})
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return out
}

// findBlock returns the one block of section that contains marker.
func findBlock(t *testing.T, blocks []readmeBlock, section, marker string) string {
	t.Helper()
	var found []string
	for _, b := range blocks {
		if strings.HasPrefix(b.section, section) && strings.Contains(b.text, marker) {
			found = append(found, b.text)
		}
	}
	if len(found) != 1 {
		t.Fatalf("README: %d sh blocks in %q contain %q, want 1", len(found), section, marker)
	}
	return found[0]
}

// needTools fails (in CI) or skips the test when a tool the README uses is
// missing; .ci/run installs them.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the README walkthrough needs %s, which is not installed (.ci/run installs it)", tool)
			}
			t.Skipf("the README walkthrough needs %s, which is not installed", tool)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shell is one bash session that keeps its variables between steps.
type shell struct {
	t     *testing.T
	stdin io.WriteCloser
	out   *bufio.Reader
	errs  *syncBuffer
	n     int
}

func startShell(t *testing.T, dir string) *shell {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sh := &shell{t: t, errs: &syncBuffer{}}
	cmd.Stderr = sh.errs
	var err error
	if sh.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sh.out = bufio.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sh.stdin.Close()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return sh
}

// run types script into the session and returns what it printed.
func (sh *shell) run(script string) string {
	sh.t.Helper()
	sh.n++
	marker := fmt.Sprintf("__readme_step_done_%d__", sh.n)
	if _, err := io.WriteString(sh.stdin, script+"\necho "+marker+"\n"); err != nil {
		sh.t.Fatal(err)
	}
	done := make(chan struct{})
	var out strings.Builder
	var readErr error
	go func() {
		defer close(done)
		for {
			line, err := sh.out.ReadString('\n')
			if err != nil {
				readErr = err
				return
			}
			if strings.TrimSpace(line) == marker {
				return
			}
			out.WriteString(line)
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		sh.t.Fatalf("step did not finish; stderr:\n%s", sh.errs.String())
	}
	if readErr != nil {
		sh.t.Fatalf("shell: %v; stderr:\n%s", readErr, sh.errs.String())
	}
	return out.String()
}

// steps splits a block at its "# N." comments; the part before the first
// is step 0.
func steps(block string) map[int]string {
	re := regexp.MustCompile(`(?m)^# (\d+)\. `)
	out := map[int]string{}
	locs := re.FindAllStringSubmatchIndex(block, -1)
	if len(locs) == 0 {
		return map[int]string{0: block}
	}
	out[0] = block[:locs[0][0]]
	for i, loc := range locs {
		end := len(block)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		var n int
		fmt.Sscanf(block[loc[2]:loc[3]], "%d", &n)
		out[n] = block[loc[0]:end]
	}
	return out
}

// jsonValues decodes every JSON value in s (jq prints them one after
// another).
func jsonValues(t *testing.T, s string) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var out []map[string]any
	for {
		var v map[string]any
		err := dec.Decode(&v)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("output is not JSON objects: %v\n%s", err, s)
		}
		out = append(out, v)
	}
}

func oneJSON(t *testing.T, step string, s string) map[string]any {
	t.Helper()
	vs := jsonValues(t, s)
	if len(vs) != 1 {
		t.Fatalf("%s printed %d JSON values, want 1:\n%s", step, len(vs), s)
	}
	return vs[0]
}

func readJSONFile(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v: %s", path, err, b)
	}
	return m
}

func TestReadmeWalkthrough(t *testing.T) {
	t.Parallel()
	needTools(t, "bash", "curl", "jq", "python3")
	blocks := readmeBlocks(t)
	serveBlock := findBlock(t, blocks, "Five-minute walkthrough", "cmd/herald serve")
	receiverBlock := findBlock(t, blocks, "Five-minute walkthrough", "python3 -c")
	mainBlock := findBlock(t, blocks, "Five-minute walkthrough", "# 1. ")
	connectorBlock := findBlock(t, blocks, "Connectors", "/v1/connectors")
	thinBlock := findBlock(t, blocks, "Thin events", "# 7. ")

	heraldAddr, receiverAddr := freePort(t), freePort(t)
	_, receiverPort, _ := net.SplitHostPort(receiverAddr)
	relocate := func(s string) string {
		s = strings.ReplaceAll(s, "http://127.0.0.1:8080", "http://"+heraldAddr)
		s = strings.ReplaceAll(s, "127.0.0.1:9000", receiverAddr)
		return strings.ReplaceAll(s, `("127.0.0.1", 9000)`, `("127.0.0.1", `+receiverPort+`)`)
	}

	// Herald, with the environment the README's serve command sets.
	env := map[string]string{}
	cmdLine := strings.ReplaceAll(serveBlock, "\\\n", " ")
	if !strings.Contains(cmdLine, "go run ./cmd/herald serve") {
		t.Fatalf("README serve command changed: %s", serveBlock)
	}
	for _, m := range regexp.MustCompile(`\b(HERALD_[A-Z_]+)=(\S+)`).FindAllStringSubmatch(cmdLine, -1) {
		env[m[1]] = m[2]
	}
	admin := env["HERALD_BOOTSTRAP_ADMIN"]
	if admin == "" || !strings.Contains(mainBlock, "ADMIN="+admin) {
		t.Fatalf("the walkthrough's ADMIN must be the HERALD_BOOTSTRAP_ADMIN it starts Herald with")
	}
	// The data folder a reader gets in the current directory goes in a
	// temporary one here; PostgreSQL's own user must be able to enter it.
	dataDir, err := os.MkdirTemp("", "herald-readme")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dataDir) })
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	env["HERALD_ADDR"], env["HERALD_DATA_DIR"] = heraldAddr, dataDir
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("herald serve: %v", err)
		}
	})
	waitFor(t, 90*time.Second, "herald to be ready", func() bool {
		select {
		case err := <-served:
			t.Fatalf("herald serve exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get("http://" + heraldAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// The receiver, as the README runs it.
	receiverOut := &syncBuffer{}
	rcv := exec.Command("bash", "--noprofile", "--norc", "-c", relocate(receiverBlock))
	rcv.Stdout, rcv.Stderr = receiverOut, io.Discard
	rcv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := rcv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-rcv.Process.Pid, syscall.SIGKILL)
		_ = rcv.Wait()
	})
	waitFor(t, 30*time.Second, "the receiver to listen", func() bool {
		c, err := net.Dial("tcp", receiverAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	work := t.TempDir()
	sh := startShell(t, work)
	fail := func(step, why string, out string) {
		t.Helper()
		t.Fatalf("README step %s: %s\noutput:\n%s\nshell stderr:\n%s", step, why, out, sh.errs.String())
	}
	s := steps(relocate(mainBlock))
	if out := sh.run("set -u\n" + s[0]); strings.TrimSpace(out) != "" {
		fail("0", "setting H and ADMIN printed something", out)
	}

	// 1. A tenant, a producer and a consumer, each with its secret.
	if out := sh.run(s[1]); strings.TrimSpace(out) != "" {
		fail("1", "printed something", out)
	}
	for _, f := range []string{"producer.json", "consumer.json"} {
		if c := readJSONFile(t, work+"/"+f); c["key"] == nil || c["secret"] == nil {
			fail("1", f+" has no key and secret", fmt.Sprint(c))
		}
	}
	consumer := readJSONFile(t, work+"/consumer.json")

	// 2. The event type, with its schema, version 1.
	out := sh.run(s[2])
	if et := oneJSON(t, "2", out); et["name"] != "com.acme.order.created" || et["version"] != float64(1) || et["schema"] == nil {
		fail("2", "no event type com.acme.order.created, version 1", out)
	}

	// 3. The endpoint, pending until the receiver consents (it does at once).
	out = sh.run(s[3])
	ep := oneJSON(t, "3", out)
	if ep["status"] != "pending" && ep["status"] != "active" || !strings.HasPrefix(fmt.Sprint(ep["secret"]), "whsec_") {
		fail("3", "no pending endpoint with a whsec_ secret", out)
	}
	endpointID := fmt.Sprint(ep["id"])

	// 4. The event is accepted and the receiver prints it.
	out = sh.run(s[4])
	if acc := oneJSON(t, "4", out); acc["accepted"] != float64(1) {
		fail("4", "the event was not accepted", out)
	}
	waitFor(t, 30*time.Second, "the receiver to print order-1", func() bool {
		return strings.Contains(receiverOut.String(), `"id":"order-1"`)
	})
	if line := receiverOut.String(); !strings.Contains(line, "v1,") || !strings.Contains(line, `"data":{"order": "A-1", "qty": 2}`) &&
		!strings.Contains(line, `"data":{"order":"A-1","qty":2}`) {
		t.Fatalf("README step 4: the receiver printed %q; want the signed event with its data", line)
	}

	// 5. Bad data is refused with the rule and the JSON path.
	out = sh.run(s[5])
	p := oneJSON(t, "5", out)
	errs, _ := p["errors"].([]any)
	if p["status"] != float64(422) || len(errs) != 1 || errs[0].(map[string]any)["field"] != "data.qty" ||
		errs[0].(map[string]any)["rule"] != "minimum" {
		fail("5", "want a 422 problem naming data.qty and the rule minimum", out)
	}

	// 6. The attempt is on record (recorded just after the receiver
	// answered, so wait for that record as a reader would).
	waitFor(t, 30*time.Second, "the delivery's attempt to be recorded", func() bool {
		req, _ := http.NewRequest("GET", "http://"+heraldAddr+"/v1/endpoints/"+endpointID+"/deliveries", nil)
		req.SetBasicAuth(fmt.Sprint(consumer["key"]), fmt.Sprint(consumer["secret"]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return bytes.Contains(b, []byte(`"succeeded"`))
	})
	out = sh.run(s[6])
	list := oneJSON(t, "6", out)
	ds, _ := list["data"].([]any)
	if len(ds) != 1 || ds[0].(map[string]any)["status"] != "succeeded" || ds[0].(map[string]any)["attempts"] == nil {
		fail("6", "want the one delivery, succeeded, with its attempts", out)
	}

	// The connector sample: created, run once against a sample event (it
	// posts to the receiver, which answers 204), no runs yet.
	out = sh.run(relocate(connectorBlock))
	vs := jsonValues(t, out)
	if len(vs) != 3 || vs[0]["kind"] != "function" || vs[0]["secrets"].(map[string]any)["token"] != "********" ||
		vs[1]["status"] != "success" || vs[2]["data"] == nil {
		fail("connectors", "want the connector (secret masked), a successful test run and its runs", out)
	}

	t7 := steps(relocate(thinBlock))
	// 7. The type becomes thin: version 2, keeping only $.order.
	out = sh.run(t7[7])
	if et := oneJSON(t, "7", out); et["delivery"] != "thin" || et["version"] != float64(2) {
		fail("7", "want the type thin, schema version 2", out)
	}
	// 8. An integration credential, its secret shown once.
	if out := sh.run(t7[8]); strings.TrimSpace(out) != "" {
		fail("8", "printed something", out)
	}
	if i := readJSONFile(t, work+"/integration.json"); i["key"] == nil || i["secret"] == nil {
		t.Fatalf("README step 8: integration.json %v", i)
	}
	// 9. A file and an event referencing it.
	if out := sh.run(t7[9]); strings.TrimSpace(out) != "" {
		fail("9", "printed something", out)
	}
	if fi, err := os.Stat(work + "/invoice.pdf"); err != nil || fi.Size() == 0 {
		t.Fatalf("README step 9: invoice.pdf: %v", err)
	}
	// 10. The receiver prints a notification without the payload, and the
	// platform reads the full event and its file with its credential.
	waitFor(t, 30*time.Second, "the receiver to print order-3", func() bool {
		return strings.Contains(receiverOut.String(), `"id":"order-3"`)
	})
	var note string
	for line := range strings.SplitSeq(receiverOut.String(), "\n") {
		if strings.Contains(line, `"id":"order-3"`) {
			note = line
		}
	}
	if !strings.Contains(note, `"data":{"order":"A-3"}`) || strings.Contains(note, "Alice") ||
		!strings.Contains(note, `"dataref":"http://`+heraldAddr+`/v1/integration/events/`) {
		t.Fatalf("README step 10: the receiver printed %q; want a notification with only order and a dataref", note)
	}
	out = sh.run(t7[10])
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
	if err != nil {
		fail("10", "the first command did not print an HTTP response: "+err.Error(), out)
	}
	full, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Link"), "<http://"+heraldAddr+"/v1/files/") ||
		!bytes.Contains(full, []byte(`"Alice"`)) {
		fail("10", "want the full event (with customer) and its file as a Link header", out)
	}
	env10 := jsonValues(t, out[strings.Index(out, string(full))+len(full):])
	if len(env10) != 1 || len(env10[0]["attachments"].([]any)) != 1 || env10[0]["event"] == nil {
		fail("10", "want the envelope with the event and its attachment", out)
	}
	// 11. Both reads are on record.
	out = sh.run(t7[11])
	if log := oneJSON(t, "11", out); len(log["data"].([]any)) != 2 {
		fail("11", "want the two reads in the access log", out)
	}
	if strings.TrimSpace(sh.errs.String()) != "" {
		t.Fatalf("the walkthrough wrote to stderr:\n%s", sh.errs.String())
	}
}
