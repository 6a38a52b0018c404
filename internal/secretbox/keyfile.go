package secretbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateKeyFile returns the master key stored at path, creating the file
// with a new random key if it does not exist. It is meant for single-node
// installs where HERALD_MASTER_KEY is not set.
//
// A new file holds the key as base64 text plus a newline, with mode 0600; a
// missing parent directory is created with mode 0700. Creation is atomic and
// never replaces an existing file: the key is written to a temporary file in
// the same directory, synced, then hard-linked into place, so concurrent
// starters agree on one key and a crash never leaves a half-written key. (The
// filesystem must support hard links.)
//
// An existing file is parsed with ParseKey and is never rewritten, even when
// invalid: replacing a key would make every stored secret unreadable, so that
// needs a human. Its permissions are not checked, because mounted secrets
// (e.g. Kubernetes) are often 0644 behind a private directory.
func LoadOrCreateKeyFile(path string) (Key, error) {
	k, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k = GenerateKey()
	created, err := createKeyFile(path, k)
	if err != nil {
		return Key{}, err
	}
	if !created {
		// Someone else created it between our read and our link: use theirs.
		return readKeyFile(path)
	}
	return k, nil
}

func readKeyFile(path string) (Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("secretbox: read key file: %w", err)
	}
	defer clear(b)
	k, err := ParseKey(string(b))
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// createKeyFile writes k to path unless path exists. It reports whether this
// call created the file.
func createKeyFile(path string, k Key) (created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("secretbox: create key directory: %w", err)
	}
	// CreateTemp opens with mode 0600.
	tmp, err := os.CreateTemp(dir, ".herald-master-key-*")
	if err != nil {
		return false, fmt.Errorf("secretbox: create key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after Link, this only drops the temporary name

	if err := writeAndSync(tmp, []byte(k.Encode()+"\n")); err != nil {
		return false, fmt.Errorf("secretbox: write key file: %w", err)
	}
	// Link fails if path exists, which makes creation exclusive without ever
	// exposing a partially written file under the final name.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("secretbox: install key file: %w", err)
	}
	// Persist the new directory entry: losing the key after secrets were
	// sealed with it would lose the secrets.
	if err := syncDir(dir); err != nil {
		return true, fmt.Errorf("secretbox: sync key directory: %w", err)
	}
	return true, nil
}

func writeAndSync(f *os.File, data []byte) error {
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	if cerr := d.Close(); serr == nil {
		serr = cerr
	}
	return serr
}
