package delivery

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/thin"
	"github.com/heraldhq/herald/webhook"
)

// TestDecide is the delivery state machine: every state a delivery can be
// found in before its attempt, and every outcome of a sent attempt, with
// the step, delay and record that follow.
func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	env := Env{
		Schedule: webhook.RetrySchedule{0, 5 * time.Second, 5 * time.Minute},
		Now:      now,
		// 0.5 puts the schedule's jitter at its middle (none) and the
		// breaker's wake-up jitter at half a second.
		Rand:        func() float64 { return 0.5 },
		PreciseWait: 4500 * time.Millisecond,
	}
	unrenderable := fmt.Errorf("render delivery 1: %w: decode event: unexpected end of JSON input", thin.ErrUnrenderable)
	transient := errors.New("render delivery 1: read payload: connection refused")
	undecryptable := errors.New("secretbox: message authentication failed")
	unencodable := errors.New("cloudevents: stored event: data: not valid JSON")
	status := func(code int) *Sent { return &Sent{Result: webhook.Result{StatusCode: code}} }
	failed := func(err error) *Sent { return &Sent{Result: webhook.Result{Err: err}} }

	tests := []struct {
		name  string
		state func(s *State)
		sent  *Sent // nil: before the attempt
		want  Decision
		// wantErr is the job's error (StepRetryJob).
		wantErr string
	}{
		// Before the attempt: is it still due, and may it go now?
		{name: "pending delivery to an active endpoint is sent", want: Decision{Step: StepSend}},
		{name: "endpoint deleted or event dropped by retention",
			state: func(s *State) { *s = State{Want: 1} },
			want:  Decision{Step: StepFail, Reason: "endpoint or event no longer exists"}},
		{name: "duplicate job of a succeeded delivery",
			state: func(s *State) { s.Status = herald.DeliverySucceeded },
			want:  Decision{Step: StepDrop}},
		{name: "duplicate job of a failed delivery",
			state: func(s *State) { s.Status = herald.DeliveryFailed },
			want:  Decision{Step: StepDrop}},
		{name: "job generation superseded by a retry by hand",
			state: func(s *State) { s.JobGen, s.Want = 2, 1 },
			want:  Decision{Step: StepDrop}},
		{name: "drain job sends whatever the generation",
			state: func(s *State) { s.JobGen, s.Want = 2, AnyGen },
			want:  Decision{Step: StepSend}},
		{name: "unrenderable thin event is dead-lettered",
			state: func(s *State) { s.RenderErr = unrenderable },
			want:  Decision{Step: StepFail, Reason: unrenderable.Error(), Log: "delivery cannot be rendered"}},
		{name: "render failing for now runs the job again",
			state:   func(s *State) { s.RenderErr = transient },
			want:    Decision{Step: StepRetryJob},
			wantErr: transient.Error()},
		{name: "pending (unverified) endpoint: first look after 1s",
			state: func(s *State) { s.EndpointStatus = herald.EndpointPending },
			want:  Decision{Step: StepWait, Wait: time.Second}},
		{name: "pending endpoint: the wait doubles with each look",
			state: func(s *State) { s.EndpointStatus, s.Snoozes = herald.EndpointPending, 3 },
			want:  Decision{Step: StepWait, Wait: 8 * time.Second}},
		{name: "pending endpoint: at most 5 minutes",
			state: func(s *State) { s.EndpointStatus, s.Snoozes = herald.EndpointPending, 40 },
			want:  Decision{Step: StepWait, Wait: 5 * time.Minute}},
		{name: "pending endpoint waits even with settings that cannot be opened",
			state: func(s *State) { s.EndpointStatus, s.SettingsErr = herald.EndpointPending, undecryptable },
			want:  Decision{Step: StepWait, Wait: time.Second}},
		{name: "endpoint disabled",
			state: func(s *State) { s.EndpointStatus = herald.EndpointDisabled },
			want:  Decision{Step: StepFail, Reason: "endpoint disabled"}},
		{name: "breaker open: wait for the cool-down, spread over a second",
			state: func(s *State) { s.OpenUntil = now.Add(30 * time.Second) },
			want:  Decision{Step: StepWait, Wait: 30*time.Second + 500*time.Millisecond}},
		{name: "breaker cooled down: claim the probe",
			state: func(s *State) { s.OpenUntil = now.Add(-time.Second) },
			want:  Decision{Step: StepClaimProbe}},
		{name: "breaker cooled down: this attempt is the probe",
			state: func(s *State) { s.OpenUntil, s.Probe = now.Add(-time.Second), ProbeClaimed },
			want:  Decision{Step: StepSend}},
		{name: "breaker cooled down: another attempt probes",
			state: func(s *State) { s.OpenUntil, s.Probe = now.Add(-time.Second), ProbeTaken },
			want:  Decision{Step: StepWait, Wait: 1500 * time.Millisecond}},
		{name: "rate limit: reserve the attempt's slot",
			state: func(s *State) { s.RateLimit = 10 },
			want:  Decision{Step: StepReserveSlot}},
		{name: "rate limit: the probe reserves a slot too",
			state: func(s *State) { s.OpenUntil, s.Probe, s.RateLimit = now.Add(-time.Second), ProbeClaimed, 10 },
			want:  Decision{Step: StepReserveSlot}},
		{name: "rate-limit slot now (a few ms early is on time)",
			state: func(s *State) { s.RateLimit, s.SlotAt = 10, now.Add(3*time.Millisecond) },
			want:  Decision{Step: StepSend}},
		{name: "rate-limit slot in 2s",
			state: func(s *State) { s.RateLimit, s.SlotAt = 10, now.Add(2*time.Second) },
			want:  Decision{Step: StepWait, Wait: 2 * time.Second}},
		{name: "rate-limit slot in a minute: look again within the precise wait",
			state: func(s *State) { s.RateLimit, s.SlotAt = 1, now.Add(time.Minute) },
			want:  Decision{Step: StepWait, Wait: 4500 * time.Millisecond}},
		{name: "undecryptable settings are dead-lettered",
			state: func(s *State) { s.SettingsErr = undecryptable },
			want: Decision{Step: StepFail, Reason: "endpoint settings cannot be decrypted: " + undecryptable.Error(),
				Log: "delivery cannot be signed"}},
		{name: "undecryptable settings wait for the rate-limit slot first",
			state: func(s *State) { s.SettingsErr, s.RateLimit, s.SlotAt = undecryptable, 1, now.Add(time.Second) },
			want:  Decision{Step: StepWait, Wait: time.Second}},
		{name: "event that cannot be put in binary mode is dead-lettered",
			state: func(s *State) { s.EncodeErr = unencodable },
			want: Decision{Step: StepFail, Reason: "cannot encode the event in binary mode: " + unencodable.Error(),
				Log: "delivery cannot be encoded in binary mode"}},

		// After the attempt: the outcome, the next state and the record.
		{name: "2xx succeeds", sent: status(204),
			want: Decision{Step: StepRecord, Attempt: 2, Status: herald.DeliverySucceeded}},
		{name: "2xx after an announced exhaustion claims the recovery", sent: status(200),
			state: func(s *State) { s.Exhausted = true },
			want:  Decision{Step: StepRecord, Attempt: 2, Status: herald.DeliverySucceeded, ClaimRecovered: true}},
		{name: "2xx arriving as the node stops is recorded",
			sent: &Sent{Result: webhook.Result{StatusCode: 200}, Interrupted: context.Canceled},
			want: Decision{Step: StepRecord, Attempt: 2, Status: herald.DeliverySucceeded}},
		{name: "3xx is a failure (redirects are not followed), retried", sent: status(302),
			want: retry(2, 5*time.Second, now, "receiver answered HTTP 302")},
		{name: "4xx is retried", sent: status(400),
			want: retry(2, 5*time.Second, now, "receiver answered HTTP 400")},
		{name: "secret rotated mid-flight: the receiver refuses the old signature, retried with the new secret",
			sent: status(401),
			want: retry(2, 5*time.Second, now, "receiver answered HTTP 401")},
		{name: "410 fails the delivery and disables the endpoint", sent: status(410),
			want: Decision{Step: StepRecord, Attempt: 2, Status: herald.DeliveryFailed,
				Error: "receiver answered 410 Gone: endpoint disabled", Disable: "receiver answered 410 Gone"}},
		{name: "410 with webhook-delivery: abort-message is still Gone",
			sent: &Sent{Result: webhook.Result{StatusCode: 410, Control: webhook.ControlAbortMessage}},
			want: Decision{Step: StepRecord, Attempt: 2, Status: herald.DeliveryFailed,
				Error: "receiver answered 410 Gone: endpoint disabled", Disable: "receiver answered 410 Gone"}},
		{name: "429 with Retry-After waits as asked",
			sent: &Sent{Result: webhook.Result{StatusCode: 429, RetryAfter: 2 * time.Minute, HasRetryAfter: true}},
			want: retry(2, 2*time.Minute, now, "receiver answered HTTP 429")},
		{name: "429 with a short Retry-After waits at least a minute",
			sent: &Sent{Result: webhook.Result{StatusCode: 429, RetryAfter: time.Second, HasRetryAfter: true}},
			want: retry(2, time.Minute, now, "receiver answered HTTP 429")},
		{name: "Retry-After is capped at an hour",
			sent: &Sent{Result: webhook.Result{StatusCode: 503, RetryAfter: 5 * time.Hour, HasRetryAfter: true}},
			want: retry(2, time.Hour, now, "receiver answered HTTP 503")},
		{name: "5xx is retried on the schedule", sent: status(500),
			want: retry(2, 5*time.Second, now, "receiver answered HTTP 500")},
		{name: "first failure is retried at once",
			state: func(s *State) { s.Attempts = 0 }, sent: status(500),
			want: Decision{Step: StepRecord, Attempt: 1, Status: herald.DeliveryPending, NextAttemptAt: now,
				Wait: time.Millisecond, Error: "receiver answered HTTP 500"}},
		{name: "timeout waits at least a minute",
			sent: &Sent{Result: webhook.Result{Timeout: true, Err: errors.New("timed out after 15s: context deadline exceeded")}},
			want: retry(2, time.Minute, now, "timed out after 15s: context deadline exceeded")},
		{name: "DNS failure is retried", sent: failed(errors.New("dial tcp: lookup hooks.invalid: no such host")),
			want: retry(2, 5*time.Second, now, "dial tcp: lookup hooks.invalid: no such host")},
		{name: "SSRF refusal is a failed attempt, retried",
			sent: &Sent{Result: webhook.Result{Blocked: true, Err: fmt.Errorf("%w: 10.0.0.1 is private", webhook.ErrForbiddenTarget)}},
			want: retry(2, 5*time.Second, now, "webhook target address is not allowed: 10.0.0.1 is private")},
		{name: "webhook-delivery: abort-message fails the delivery for good",
			sent: &Sent{Result: webhook.Result{StatusCode: 500, Control: webhook.ControlAbortMessage}},
			want: Decision{Step: StepRecord, Attempt: 2, Status: herald.DeliveryFailed,
				Error: "receiver answered webhook-delivery: abort-message", Exhausted: true, Announce: true}},
		{name: "webhook-delivery: disable fails the delivery and disables the endpoint",
			sent: &Sent{Result: webhook.Result{StatusCode: 500, Control: webhook.ControlDisable}},
			want: Decision{Step: StepRecord, Attempt: 2, Status: herald.DeliveryFailed,
				Error: "receiver answered webhook-delivery: disable", Disable: "receiver answered webhook-delivery: disable"}},
		{name: "2xx with webhook-delivery: disable succeeds and disables the endpoint",
			sent: &Sent{Result: webhook.Result{StatusCode: 200, Control: webhook.ControlDisable}},
			want: Decision{Step: StepRecord, Attempt: 2, Status: herald.DeliverySucceeded,
				Disable: "receiver answered webhook-delivery: disable"}},
		{name: "last attempt fails the delivery: exhausted and announced",
			state: func(s *State) { s.Attempts = 3 }, sent: status(500),
			want: Decision{Step: StepRecord, Attempt: 4, Status: herald.DeliveryFailed,
				Error: "receiver answered HTTP 500", Exhausted: true, Announce: true}},
		{name: "last attempt of an operational event is not announced",
			state: func(s *State) { s.Attempts, s.Operational = 3, true }, sent: status(500),
			want: Decision{Step: StepRecord, Attempt: 4, Status: herald.DeliveryFailed,
				Error: "receiver answered HTTP 500", Exhausted: true}},
		{name: "a retry by hand starts a fresh cycle",
			state: func(s *State) { s.Attempts, s.RetryBase = 9, 9 }, sent: status(500),
			want: Decision{Step: StepRecord, Attempt: 10, Status: herald.DeliveryPending, NextAttemptAt: now,
				Wait: time.Millisecond, Error: "receiver answered HTTP 500"}},
		{name: "attempt cut short by the node's own context is not recorded",
			sent:    &Sent{Result: webhook.Result{Err: errors.New("attempt canceled: context canceled")}, Interrupted: context.Canceled},
			want:    Decision{Step: StepRetryJob},
			wantErr: "attempt interrupted: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := State{Found: true, Status: herald.DeliveryPending, JobGen: 1, Want: 1, EndpointStatus: herald.EndpointActive}
			if tt.sent != nil {
				s.Attempts = 1
			}
			if tt.state != nil {
				tt.state(&s)
			}
			got := Decide(s, tt.sent, env)
			gotErr := ""
			if got.Err != nil {
				gotErr = got.Err.Error()
			}
			got.Err = nil
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("Decide:\n got %+v (err %q)\nwant %+v (err %q)", got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}

// retry is the record of a failed attempt whose delivery is tried again
// after wait.
func retry(attempt int, wait time.Duration, now time.Time, msg string) Decision {
	return Decision{Step: StepRecord, Attempt: attempt, Status: herald.DeliveryPending, NextAttemptAt: now.Add(wait),
		Wait: wait, Error: msg}
}
