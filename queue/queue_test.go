package queue

import (
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

func TestSnoozes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		metadata string
		want     int
	}{
		{"", 0},
		{"{}", 0},
		{`{"snoozes": 3}`, 3},
		{`{"snoozes": 3, "river:other": true}`, 3},
		{"not json", 0},
	}
	for _, tt := range tests {
		if got := snoozes([]byte(tt.metadata)); got != tt.want {
			t.Errorf("snoozes(%q) = %d, want %d", tt.metadata, got, tt.want)
		}
	}
}

func TestSnoozeFor(t *testing.T) {
	t.Parallel()
	boom := errors.New("database is down")
	if err := snoozeFor(0, nil); err != nil {
		t.Errorf("settled: %v, want nil (job done)", err)
	}
	if err := snoozeFor(time.Minute, boom); err != boom {
		t.Errorf("error: %v, want %v", err, boom)
	}
	var snooze *rivertype.JobSnoozeError
	if err := snoozeFor(time.Minute, nil); !errors.As(err, &snooze) || snooze.Duration != time.Minute {
		t.Errorf("wait: %v, want a one-minute snooze", err)
	}
}
