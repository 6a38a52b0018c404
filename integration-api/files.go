package integrationapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// FileStore keeps the content of uploaded files. DiskStore is the default;
// an S3-compatible object store is the intended second implementation (put
// under the file id, get with ranges, delete), with no change elsewhere:
// records and access checks stay in PostgreSQL.
type FileStore interface {
	// Put stores r under id and returns its size and SHA-256. It fails with
	// ErrTooLarge past limit bytes, storing nothing.
	Put(ctx context.Context, id uuid.UUID, r io.Reader, limit int64) (size int64, sum []byte, err error)
	// Open returns the content for reading (and seeking, for ranges).
	Open(ctx context.Context, id uuid.UUID) (io.ReadSeekCloser, error)
	// Delete removes the content; a missing file is not an error.
	Delete(ctx context.Context, id uuid.UUID) error
}

// ErrTooLarge is returned by FileStore.Put past its limit.
var ErrTooLarge = errors.New("file too large")

// DiskStore keeps files under a folder (by default <data dir>/files), one
// file per id in 256 sub-folders.
type DiskStore struct{ Dir string }

func (d DiskStore) path(id uuid.UUID) string {
	s := id.String()
	return filepath.Join(d.Dir, s[:2], s)
}

// Put writes to a temporary file, syncs it and renames it into place, so a
// crash never leaves a partial file under the id.
func (d DiskStore) Put(_ context.Context, id uuid.UUID, r io.Reader, limit int64) (int64, []byte, error) {
	final := d.path(id)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return 0, nil, fmt.Errorf("store file: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(final), ".upload-*")
	if err != nil {
		return 0, nil, fmt.Errorf("store file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, limit+1))
	if err != nil {
		return 0, nil, fmt.Errorf("store file: %w", err)
	}
	if n > limit {
		return 0, nil, ErrTooLarge
	}
	if err := f.Sync(); err != nil {
		return 0, nil, fmt.Errorf("store file: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, nil, fmt.Errorf("store file: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return 0, nil, fmt.Errorf("store file: %w", err)
	}
	ok = true
	return n, h.Sum(nil), nil
}

// Open opens a stored file.
func (d DiskStore) Open(_ context.Context, id uuid.UUID) (io.ReadSeekCloser, error) {
	f, err := os.Open(d.path(id))
	if err != nil {
		return nil, fmt.Errorf("open file %s: %w", id, err)
	}
	return f, nil
}

// Delete removes a stored file.
func (d DiskStore) Delete(_ context.Context, id uuid.UUID) error {
	if err := os.Remove(d.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete file %s: %w", id, err)
	}
	return nil
}

// Signer makes and checks the signed download URLs of attached files. A URL
// names the file, the integration credential it was issued to and its
// expiry, under an HMAC-SHA256 with a key derived from Herald's master key,
// so any node can check it and nothing is stored. Revoking the credential
// also ends its URLs.
type Signer struct{ key []byte }

// NewSigner derives the URL signing key from the master key.
func NewSigner(masterKey []byte) *Signer {
	m := hmac.New(sha256.New, masterKey)
	m.Write([]byte("herald file download urls v1"))
	return &Signer{key: m.Sum(nil)}
}

func (s *Signer) mac(file, integration uuid.UUID, expires int64) []byte {
	var m hash.Hash = hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\n%s\n%d", file, integration, expires)
	return m.Sum(nil)
}

// Query returns the query string of a download URL valid until expires.
func (s *Signer) Query(file, integration uuid.UUID, expires time.Time) string {
	exp := expires.Unix()
	v := url.Values{}
	v.Set("integration", integration.String())
	v.Set("expires", strconv.FormatInt(exp, 10))
	v.Set("signature", base64.RawURLEncoding.EncodeToString(s.mac(file, integration, exp)))
	return v.Encode()
}

// Errors of Verify.
var (
	errBadSignature = errors.New("the download link is not valid")
	errLinkExpired  = errors.New("the download link has expired; fetch the event again for a fresh one")
)

// Verify checks a download URL's query for file at now and returns the
// integration it was issued to.
func (s *Signer) Verify(file uuid.UUID, q url.Values, now time.Time) (uuid.UUID, error) {
	integration, err := uuid.Parse(q.Get("integration"))
	if err != nil {
		return uuid.Nil, errBadSignature
	}
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil {
		return uuid.Nil, errBadSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(q.Get("signature"))
	if err != nil || !hmac.Equal(sig, s.mac(file, integration, exp)) {
		return uuid.Nil, errBadSignature
	}
	if now.Unix() >= exp {
		return integration, errLinkExpired
	}
	return integration, nil
}
