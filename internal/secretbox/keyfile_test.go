package secretbox

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateKeyFileCreatesOnceThenReads(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state", "master.key") // parent missing

	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if k1 == (Key{}) {
		t.Fatal("created a zero key")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode %o, want 600", mode)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v (err %v), want 700", di.Mode().Perm(), err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(content)); got != k1.Encode() {
		t.Error("file does not hold the base64 key")
	}

	k2, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if k2 != k1 {
		t.Fatal("second call returned a different key")
	}

	// No temporary files are left behind.
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file", len(entries))
	}
}

func TestLoadOrCreateKeyFileConcurrentStartersAgree(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 16
	keys := make([]Key, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			keys[i], errs[i] = LoadOrCreateKeyFile(path)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("starter %d: %v", i, errs[i])
		}
		if keys[i] != keys[0] {
			t.Fatalf("starter %d got a different key", i)
		}
	}
}

func TestLoadOrCreateKeyFileReadsExisting(t *testing.T) {
	t.Parallel()
	want := testKey(3)
	tests := []struct {
		name    string
		content string
		wantErr bool
	}{
		{"base64 with newline", want.Encode() + "\n", false},
		{"hex", hex.EncodeToString(want[:]), false},
		{"invalid content", "hunter2\n", true},
		{"empty file", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreateKeyFile(path)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("err = %v, want ErrInvalidKey", err)
				}
				// An invalid key file must never be replaced.
				after, _ := os.ReadFile(path)
				if string(after) != tt.content {
					t.Error("invalid key file was rewritten")
				}
				return
			}
			if err != nil || got != want {
				t.Fatalf("got key match=%v, err %v", got == want, err)
			}
		})
	}
}

func TestLoadOrCreateKeyFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The key path is a directory: reading fails with something other than
	// "not exist", which must be reported, not papered over with a new key.
	if _, err := LoadOrCreateKeyFile(dir); err == nil || !strings.Contains(err.Error(), "read key file") {
		t.Errorf("err = %v, want read error", err)
	}
	// The parent is a regular file: the directory cannot be created.
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(filepath.Join(file, "master.key")); err == nil {
		t.Error("expected an error when the parent is a file")
	}
}
