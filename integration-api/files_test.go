package integrationapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSignerVerify(t *testing.T) {
	t.Parallel()
	s := NewSigner(bytes.Repeat([]byte{7}, 32))
	other := NewSigner(bytes.Repeat([]byte{8}, 32))
	file, integ := uuid.New(), uuid.New()
	now := time.Unix(1_800_000_000, 0)
	good, _ := url.ParseQuery(s.Query(file, integ, now.Add(5*time.Minute)))
	tamper := func(k, v string) url.Values {
		q, _ := url.ParseQuery(good.Encode())
		q.Set(k, v)
		return q
	}
	foreign, _ := url.ParseQuery(other.Query(file, integ, now.Add(5*time.Minute)))
	tests := []struct {
		name string
		file uuid.UUID
		q    url.Values
		at   time.Time
		want error
	}{
		{"valid", file, good, now, nil},
		{"just before expiry", file, good, now.Add(5*time.Minute - time.Second), nil},
		{"at expiry", file, good, now.Add(5 * time.Minute), errLinkExpired},
		{"another file", uuid.New(), good, now, errBadSignature},
		{"another integration", file, tamper("integration", uuid.NewString()), now, errBadSignature},
		{"extended expiry", file, tamper("expires", "9999999999"), now, errBadSignature},
		{"bad signature", file, tamper("signature", "AAAA"), now, errBadSignature},
		{"no signature", file, tamper("signature", ""), now, errBadSignature},
		{"another key", file, foreign, now, errBadSignature},
		{"empty", file, url.Values{}, now, errBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Verify(tt.file, tt.q, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if tt.want == nil && got != integ {
				t.Fatalf("Verify integration = %s, want %s", got, integ)
			}
		})
	}
}

func TestDiskStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := DiskStore{Dir: t.TempDir()}
	id := uuid.New()
	content := []byte(strings.Repeat("plan ", 100))
	n, sum, err := d.Put(ctx, id, bytes.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(content)
	if n != int64(len(content)) || !bytes.Equal(sum, want[:]) {
		t.Fatalf("Put = %d, %x", n, sum)
	}
	f, err := d.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	_ = f.Close()
	if !bytes.Equal(got, content) {
		t.Fatal("content differs")
	}
	big := uuid.New()
	if _, _, err := d.Put(ctx, big, bytes.NewReader(content), int64(len(content)-1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put over the limit: %v", err)
	}
	if _, err := d.Open(ctx, big); err == nil {
		t.Fatal("a refused upload was kept")
	}
	if err := d.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, id); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := d.Open(ctx, id); err == nil {
		t.Fatal("deleted file still opens")
	}
}

func TestCleanName(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"plan.pdf":               "plan.pdf",
		"../../etc/passwd":       "passwd",
		`C:\Users\a\photo.jpg`:   "photo.jpg",
		"bad\x00name\n.txt":      "badname.txt",
		"":                       "",
		"/":                      "",
		strings.Repeat("é", 200): strings.Repeat("é", 127),
	}
	for in, want := range tests {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
