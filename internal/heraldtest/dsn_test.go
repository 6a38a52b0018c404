package heraldtest

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, host string }{
		{"host=/tmp/sock port=5432 user=herald dbname=postgres sslmode=disable", "/tmp/sock"},
		{"host=db.example user=u password='p w' sslmode=disable", "db.example"},
		{"postgres://u:p@db.example:5433/app?sslmode=disable", "db.example"},
		{"postgresql://u@db.example?sslmode=disable", "db.example"},
		{"postgres://u@db.example/app?sslmode=disable&dbname=other", "db.example"},
		{"postgresql:///postgres?host=/tmp/sock&user=herald&sslmode=disable", "/tmp/sock"},
	} {
		out := withDatabase(tc.in, "herald_t_1_ab'c")
		cfg, err := pgconn.ParseConfig(out)
		if err != nil {
			t.Errorf("withDatabase(%q) = %q: %v", tc.in, out, err)
			continue
		}
		if cfg.Database != "herald_t_1_ab'c" || cfg.Host != tc.host {
			t.Errorf("withDatabase(%q) = %q: database %q host %q", tc.in, out, cfg.Database, cfg.Host)
		}
		orig, _ := pgconn.ParseConfig(tc.in)
		if cfg.User != orig.User || cfg.Password != orig.Password || cfg.Port != orig.Port {
			t.Errorf("withDatabase(%q) = %q lost settings", tc.in, out)
		}
	}
}
