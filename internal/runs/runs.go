// Package runs defines the run record: what one sync run of one profile did,
// entity by entity. It does no I/O.
package runs

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"time"
)

// Status of a run or of one entity within it.
type Status string

const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	// StatusSkipped: an entity not run because one before it failed.
	StatusSkipped Status = "skipped"
	// StatusPartial: a run where some entities succeeded and some did not.
	StatusPartial Status = "partial"
	// StatusHeld: what was safe is applied and the rest waits for a
	// confirmation (a deletion guard, a shrunk feed). Nothing runs until
	// someone confirms; last-sync does not move.
	StatusHeld Status = "held"
	// StatusCancelled: stopped because the customer's configuration was
	// removed; what ran before stays done, nothing after it runs.
	StatusCancelled Status = "cancelled"
)

// Done reports whether s is final: nothing more happens without a person.
func (s Status) Done() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusSkipped, StatusPartial, StatusHeld, StatusCancelled:
		return true
	}
	return false
}

// Settled reports whether s lets the entities after it run: a held entity
// applied all that was safe, so what builds on it may go ahead.
func (s Status) Settled() bool { return s == StatusSucceeded || s == StatusHeld }

// Triggers.
const (
	TriggerTimer  = "timer"
	TriggerManual = "manual"
)

// Modes.
const (
	ModeApply    = "apply"
	ModeSimulate = "simulate"
)

// Run is the record of one run.
type Run struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customerId"`
	ProfileID  string    `json:"profileId"`
	Trigger    string    `json:"trigger"`
	Mode       string    `json:"mode"`
	Window     string    `json:"window"`
	Status     Status    `json:"status"`
	CreatedAt  time.Time `json:"createdAt"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	// ProgressAt is when a step of the run last completed; the sweeper
	// fails a run whose progress stopped, never one that keeps moving.
	ProgressAt time.Time      `json:"progressAt,omitzero"`
	EndedAt    time.Time      `json:"endedAt,omitzero"`
	Entities   []EntityRun    `json:"entities"`
	Counts     map[string]int `json:"counts,omitempty"`
	// Only limits a manual run to these people (sourcedIds): "create
	// selected people now".
	Only []string `json:"only,omitempty"`
	// Action is the per-object button that started the run ("resync",
	// "create", "delete"); empty for a sync of everything in scope.
	Action string `json:"action,omitempty"`
	// ETag is the store's concurrency token; not part of the record.
	ETag string `json:"-"`
}

// EntityRun is one entity's part of a run.
type EntityRun struct {
	Entity    string         `json:"entity"`
	Status    Status         `json:"status"`
	StartedAt time.Time      `json:"startedAt,omitzero"`
	EndedAt   time.Time      `json:"endedAt,omitzero"`
	Steps     int            `json:"steps,omitempty"`
	Counts    map[string]int `json:"counts,omitempty"`
	Error     string         `json:"error,omitempty"`
	// Held says what awaits confirmation when Status is held.
	Held string `json:"held,omitempty"`
	// Progress is where a running entity stands (operations done of
	// planned, pace, throttling, estimate); nil before its plan exists.
	Progress *Progress `json:"progress,omitempty"`
	// Samples are the entity's points over time, one per step that
	// planned or applied and more while a long step runs (at most every
	// pipeline Options.ProgressEvery): what the run report charts. Past
	// MaxSamples adjacent ones are merged, their figures summed (Advance).
	Samples []Sample `json:"samples,omitempty"`
}

// Progress is one entity's progress through its plan.
type Progress struct {
	// Total is the number of operations the entity's plan holds (Graph
	// writes: a create, a licence, a membership; apply.CountOps); Done how
	// many of them are finished (done, failed or skipped).
	Total int `json:"total"`
	Done  int `json:"done"`
	// WritesPerSecond is the recent pace of writes to the tenant (over
	// PaceWindow at least); EstimatedEnd follows the pace operations finish.
	WritesPerSecond float64 `json:"writesPerSecond"`
	// Throttled counts requests Graph answered 429 (or 503 with
	// Retry-After); ThrottledWaitMs is the time spent waiting them out.
	Throttled       int   `json:"throttled"`
	ThrottledWaitMs int64 `json:"throttledWaitMs"`
	// EstimatedEnd is when the entity should finish at the current pace;
	// zero when there is no pace yet.
	EstimatedEnd time.Time `json:"estimatedEnd,omitzero"`
}

// Sample is one point of an entity's run over time.
type Sample struct {
	At time.Time `json:"at"`
	// Writes, Throttled and WaitMs are what happened since the previous
	// sample: writes (operations) sent to the tenant, requests throttled,
	// and the time Graph's Retry-After held writes back.
	Writes    int   `json:"writes"`
	Throttled int   `json:"throttled"`
	WaitMs    int64 `json:"waitMs"`
	// Done is the entity's operations finished so far (cumulative).
	Done int `json:"done"`
}

// New returns a queued run with one queued entry per entity, in order.
func New(id, customerID, profileID, trigger, mode, window string, entities []string, now time.Time) Run {
	r := Run{ID: id, CustomerID: customerID, ProfileID: profileID, Trigger: trigger, Mode: mode,
		Window: window, Status: StatusQueued, CreatedAt: now.UTC()}
	for _, e := range entities {
		r.Entities = append(r.Entities, EntityRun{Entity: e, Status: StatusQueued})
	}
	return r
}

// Entity returns the index of the named entity, or -1.
func (r *Run) Entity(name string) int {
	return slices.IndexFunc(r.Entities, func(e EntityRun) bool { return e.Entity == name })
}

// Finish recomputes the run's status and totals from its entities, stamping
// EndedAt when every entity is final.
func (r *Run) Finish(now time.Time) {
	totals := map[string]int{}
	done, ok, held, cancelled := 0, 0, 0, 0
	for _, e := range r.Entities {
		for k, v := range e.Counts {
			totals[k] += v
		}
		if e.Status.Done() {
			done++
		}
		switch e.Status {
		case StatusSucceeded:
			ok++
		case StatusHeld:
			held++
		case StatusCancelled:
			cancelled++
		}
	}
	r.Counts = totals
	if len(totals) == 0 {
		r.Counts = nil
	}
	if done < len(r.Entities) {
		return
	}
	switch {
	case cancelled > 0:
		// A removed configuration ends the run, whatever ran before.
		r.Status = StatusCancelled
	case ok == len(r.Entities):
		r.Status = StatusSucceeded
	case ok+held == len(r.Entities):
		r.Status = StatusHeld
	case ok+held == 0:
		r.Status = StatusFailed
	default:
		r.Status = StatusPartial
	}
	r.EndedAt = now.UTC()
}

// MergeCounts adds add into dst, allocating dst when needed.
func MergeCounts(dst, add map[string]int) map[string]int {
	if len(add) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]int, len(add))
	}
	for _, k := range slices.Sorted(maps.Keys(add)) {
		dst[k] += add[k]
	}
	return dst
}

// ScheduledID is the run id of a nightly run: time-ordered by the window's
// instant and deterministic in (customer, profile, window), so a re-fired
// timer finds the run it already created.
func ScheduledID(customerID, profileID, window string, at time.Time) string {
	sum := sha256.Sum256([]byte(customerID + "|" + profileID + "|" + window))
	return at.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(sum[:5])
}

// ManualID is a fresh time-ordered run id for a run started from the API.
func ManualID(now time.Time) string {
	var b [5]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// LogEntry is one line of a run's log. It holds ids and counts only, never
// personal data.
type LogEntry struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Entity  string    `json:"entity,omitempty"`
	Message string    `json:"message"`
}
