package bench

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
)

func TestMain(m *testing.M) {
	os.Exit(heraldtest.Main(m, postgres.MigrateDSN))
}

// TestRunSmoke runs the cheap phases against a real node for a moment:
// the bench must keep measuring the real path, with every event produced
// in the end-to-end phase received once and every signature verified.
func TestRunSmoke(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	rep, err := Run(t.Context(), Options{
		Duration: time.Second, BatchClients: 2, SingleClients: 2,
		DatabaseURL: heraldtest.NewDatabase(t), Out: io.MultiWriter(&out, testWriter{t}),
		Logger: heraldtest.Logger(t), Phases: []string{"batch", "batch-bare", "single", "e2e"},
	})
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	if rep.IngestBatch <= 0 || rep.IngestBatchBare <= 0 || rep.IngestSingle <= 0 || rep.EndToEnd <= 0 {
		t.Fatalf("a phase measured nothing: %+v", rep)
	}
	if !strings.Contains(out.String(), "; 0 bad signatures;") {
		t.Fatalf("end to end: signatures did not all verify:\n%s", out.String())
	}
	if rep.PeakRSSMB <= 0 {
		t.Errorf("peak RSS not measured")
	}
}

// testWriter writes the bench's report lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
