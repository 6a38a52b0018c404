package delivery

import (
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/thin"
	"github.com/heraldhq/herald/webhook"
)

// AnyGen is the job generation of a drain job's deliveries: a drain owns the
// deliveries queued on its key whatever their generation (a retry by hand
// of a queued delivery wakes the drain rather than giving it a job).
const AnyGen int32 = -1

// Probe is where an attempt stands with the probe of an endpoint whose
// circuit has cooled down: exactly one attempt across all nodes goes out.
type Probe int

// Probe states.
const (
	// ProbeUnclaimed: the attempt has not tried to claim the probe yet.
	ProbeUnclaimed Probe = iota
	// ProbeClaimed: this attempt is the probe.
	ProbeClaimed
	// ProbeTaken: another attempt is probing.
	ProbeTaken
)

// State is what an attempt knows of its delivery and endpoint when it
// decides: what the load read, and what the steps Decide asked for
// (claiming a probe, reserving a rate-limit slot) found.
type State struct {
	// Found is false when the delivery, its event or its endpoint is no
	// longer stored (retention dropped the event, the endpoint was
	// deleted).
	Found bool
	// Status, Attempts and RetryBase are the delivery's: attempts made so
	// far, and the count its current retry cycle started from (a retry by
	// hand starts a fresh cycle).
	Status    herald.DeliveryStatus
	Attempts  int
	RetryBase int
	// JobGen is the delivery's job generation, Want the one the job was
	// made for (AnyGen: any).
	JobGen, Want int32
	// RenderErr is set when the stored body could not be turned into what
	// may be pushed (a thin type's notification).
	RenderErr error
	// EndpointStatus is the endpoint's: active, pending (awaiting the
	// receiver's consent) or disabled.
	EndpointStatus herald.EndpointStatus
	// OpenUntil is set while the endpoint's circuit is open (or was,
	// until a probe succeeds); Probe says whether this attempt is it.
	OpenUntil time.Time
	Probe     Probe
	// RateLimit is the endpoint's limit per second (0: none) and SlotAt
	// the slot reserved for this attempt (zero: none yet).
	RateLimit int
	SlotAt    time.Time
	// SettingsErr is set when the endpoint's sealed secrets, static
	// headers or config cannot be opened (a wrong master key).
	SettingsErr error
	// EncodeErr is set when the event cannot be put in the endpoint's
	// binary content mode.
	EncodeErr error
	// Snoozes is how many times the job has waited already (it paces the
	// looks at a pending endpoint).
	Snoozes int
	// Exhausted is set when the delivery was announced as exhausted and
	// its recovery not yet.
	Exhausted bool
	// Operational is set for a delivery of one of Herald's own events: no
	// event is announced about it.
	Operational bool
}

// Sent is how a sent attempt went.
type Sent struct {
	Result webhook.Result
	// Interrupted is the end of this node's own context (its shutdown
	// timeout, the job's timeout) when that cut the attempt short.
	Interrupted error
}

// Env is what Decide reads besides the delivery: the retry schedule, the
// time, a random source (values in [0, 1)) for jitter, and the longest
// wait the job runner honours to the millisecond.
type Env struct {
	Schedule    webhook.RetrySchedule
	Now         time.Time
	Rand        func() float64
	PreciseWait time.Duration
}

// Step is what the attempt does next.
type Step int

// Steps, in the order an attempt meets them.
const (
	// StepDrop: nothing to do (a duplicate job of a settled delivery, or a
	// job superseded by a retry by hand).
	StepDrop Step = iota
	// StepFail: the delivery is failed without an attempt, for Reason
	// (nothing could ever send it).
	StepFail
	// StepWait: look again after Wait; no attempt is made or counted.
	StepWait
	// StepRetryJob: the job fails with Err and runs again soon; nothing
	// is recorded.
	StepRetryJob
	// StepClaimProbe: try to claim the endpoint's probe, then decide
	// again.
	StepClaimProbe
	// StepReserveSlot: reserve the attempt's rate-limit slot, then decide
	// again.
	StepReserveSlot
	// StepSend: make the attempt.
	StepSend
	// StepRecord: record the attempt and the delivery's new state.
	StepRecord
)

// Decision is what Decide says.
type Decision struct {
	Step Step
	// Wait is how long the delivery waits before it is looked at again
	// (StepWait, and StepRecord of a delivery left pending).
	Wait time.Duration
	// Reason is recorded as the failed delivery's last error (StepFail).
	Reason string
	// Log, when set, is logged as an error with the failure (StepFail).
	Log string
	// Err is the job's error (StepRetryJob).
	Err error

	// The attempt's record (StepRecord): its number, the delivery's new
	// status, when the next attempt is due (pending) and the error shown.
	Attempt       int
	Status        herald.DeliveryStatus
	NextAttemptAt time.Time
	Error         string
	// Disable, when set, is why the receiver's answer disables the
	// endpoint.
	Disable string
	// Exhausted is set when the delivery failed after its last attempt
	// (not by its receiver's wish to disable the endpoint); Announce when
	// herald.delivery.exhausted is to be published about it.
	Exhausted bool
	Announce  bool
	// ClaimRecovered is set when a success follows an announced
	// exhaustion: whoever claims the mark announces the recovery.
	ClaimRecovered bool
}

// Timing of waits that are not the retry schedule's.
const (
	// probeRetry is how long an attempt waits while another probes the
	// endpoint's circuit.
	probeRetry = time.Second
	// breakerJitter spreads the wake-ups of deliveries waiting on one
	// circuit.
	breakerJitter = time.Second
	// rateEarly tolerates waking a little before a reserved slot.
	rateEarly = 5 * time.Millisecond
	// minRetryWait keeps a due retry a wait (a zero wait means settled).
	minRetryWait = time.Millisecond
)

// Decide is the delivery state machine: from what is known of a delivery
// (s) and, once it was sent, how the attempt went (sent; nil before), it
// says what happens next. It is pure: the attempt (see Deliverer.Deliver)
// does what the decision says, and for StepClaimProbe and StepReserveSlot
// asks again with what it found.
func Decide(s State, sent *Sent, env Env) Decision {
	if sent != nil {
		return classify(s, *sent, env)
	}
	switch {
	case !s.Found:
		return Decision{Step: StepFail, Reason: "endpoint or event no longer exists"}
	case s.Status != herald.DeliveryPending:
		return Decision{Step: StepDrop} // a duplicate job for a delivery already settled
	case s.Want != AnyGen && s.JobGen != s.Want:
		return Decision{Step: StepDrop} // superseded: a retry by hand gave the delivery a new job
	case s.RenderErr != nil && errors.Is(s.RenderErr, thin.ErrUnrenderable):
		// No attempt could ever send it: dead-letter it visibly.
		return Decision{Step: StepFail, Reason: s.RenderErr.Error(), Log: "delivery cannot be rendered"}
	case s.RenderErr != nil:
		return Decision{Step: StepRetryJob, Err: s.RenderErr}
	case s.EndpointStatus == herald.EndpointPending:
		// Waiting for the receiver's consent: keep the delivery, look
		// again later. Snoozes are not attempts.
		return Decision{Step: StepWait, Wait: pendingDelay(s.Snoozes)}
	case s.EndpointStatus != herald.EndpointActive:
		return Decision{Step: StepFail, Reason: "endpoint disabled"}
	}
	if !s.OpenUntil.IsZero() {
		// The endpoint's circuit is open: don't hammer a receiver that is
		// down. After the cool-down one attempt, the probe, goes through;
		// its outcome closes the circuit or opens it again.
		jitter := time.Duration(env.Rand() * float64(breakerJitter))
		if wait := s.OpenUntil.Sub(env.Now); wait > 0 {
			return Decision{Step: StepWait, Wait: wait + jitter}
		}
		switch s.Probe {
		case ProbeUnclaimed:
			return Decision{Step: StepClaimProbe}
		case ProbeTaken:
			return Decision{Step: StepWait, Wait: probeRetry + jitter}
		}
	}
	if s.RateLimit > 0 {
		if s.SlotAt.IsZero() {
			return Decision{Step: StepReserveSlot}
		}
		if wait := s.SlotAt.Sub(env.Now); wait > rateEarly {
			// Longer waits would be woken late and bunch deliveries:
			// look again in time, the slot stays reserved.
			return Decision{Step: StepWait, Wait: min(wait, env.PreciseWait)}
		}
	}
	switch {
	case s.SettingsErr != nil:
		// No attempt can succeed: dead-letter the delivery visibly.
		return Decision{Step: StepFail, Reason: "endpoint settings cannot be decrypted: " + s.SettingsErr.Error(),
			Log: "delivery cannot be signed"}
	case s.EncodeErr != nil:
		// Only a stored event that is no longer valid gets here.
		return Decision{Step: StepFail, Reason: "cannot encode the event in binary mode: " + s.EncodeErr.Error(),
			Log: "delivery cannot be encoded in binary mode"}
	}
	return Decision{Step: StepSend}
}

// classify turns the outcome of a sent attempt into the delivery's next
// state.
func classify(s State, sent Sent, env Env) Decision {
	res := sent.Result
	if res.Err != nil && sent.Interrupted != nil {
		// This node cut the attempt short: not the receiver's failure, so
		// it is not recorded as an attempt. The job runs again soon, with
		// the same webhook-id; the receiver may have seen this request.
		return Decision{Step: StepRetryJob, Err: fmt.Errorf("attempt interrupted: %w", sent.Interrupted)}
	}
	d := Decision{Step: StepRecord, Attempt: s.Attempts + 1, Disable: disableReason(res)}
	switch {
	case res.Err != nil:
		d.Error = res.Err.Error()
	case !res.Success():
		d.Error = fmt.Sprintf("receiver answered HTTP %d", res.StatusCode)
	}
	switch {
	case res.Success():
		d.Status = herald.DeliverySucceeded
		d.ClaimRecovered = s.Exhausted
	case d.Disable != "" || res.Control == webhook.ControlAbortMessage:
		// The receiver asked for no more retries of this message (and,
		// when it disables the endpoint, of anything).
		d.Status = herald.DeliveryFailed
		if res.Gone() {
			d.Error = "receiver answered 410 Gone: endpoint disabled"
		} else {
			d.Error = "receiver answered webhook-delivery: " + res.Control
		}
	default:
		if delay, ok := env.Schedule.Next(d.Attempt-s.RetryBase, res, env.Rand); ok {
			d.Status = herald.DeliveryPending
			d.NextAttemptAt = env.Now.Add(delay).UTC()
			d.Wait = max(delay, minRetryWait)
		} else {
			d.Status = herald.DeliveryFailed
		}
	}
	d.Exhausted = d.Status == herald.DeliveryFailed && d.Disable == ""
	d.Announce = d.Exhausted && !s.Operational // no events about failing operational events
	return d
}

// pendingDelay is how long a delivery to an endpoint awaiting verification
// waits before looking again: 1 s, doubling with each look, at most 5 min,
// so a long-pending endpoint's backlog does not churn the queue.
func pendingDelay(snoozes int) time.Duration {
	return min(time.Second<<min(max(snoozes, 0), 9), 5*time.Minute)
}

// disableReason says why a response disables its endpoint ("" if it
// does not): 410 Gone, or the receiver's webhook-delivery: disable header.
func disableReason(res webhook.Result) string {
	switch {
	case res.Gone():
		return "receiver answered 410 Gone"
	case res.Control == webhook.ControlDisable:
		return "receiver answered webhook-delivery: disable"
	}
	return ""
}
