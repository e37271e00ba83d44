package queue

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JobFormatVersion is written into every job body; a runner refuses bodies
// from a newer format rather than guess at them.
const JobFormatVersion = 1

// Job is the body of a sync message: keys only, never roster or tenant data,
// so the runner always re-reads current state (level-triggered).
type Job struct {
	Version    int    `json:"v"`
	CustomerID string `json:"customer"`
	ProfileID  string `json:"profile"`
	RunID      string `json:"run"`
	Entity     string `json:"entity"`
	// Window names the schedule occurrence (the local date of a nightly run)
	// or the run id for manual runs; it makes the MessageID deterministic.
	Window string `json:"window"`
	// Step counts follow-up messages of one entity job, starting at 0.
	Step int `json:"step,omitempty"`
	// Wait counts the times this step was put back because an earlier
	// entity of the run had not finished; it keeps those copies' ids apart.
	Wait int `json:"wait,omitempty"`
	// Cursor is the entity handler's own continuation state.
	Cursor string `json:"cursor,omitempty"`
	// Attempt counts the copies of this step scheduled after transient
	// failures; it keeps their ids apart, so duplicate detection does not
	// drop a retry as a repeat of the delivery that failed.
	Attempt int `json:"attempt,omitempty"`
	// Woken marks the copy an entity's predecessor sends the moment it
	// ends; it keeps that copy's id apart from the waiting copies'.
	Woken bool `json:"woken,omitempty"`
}

var idEscaper = strings.NewReplacer("%", "%25", "|", "%7C")

// ErrBadJob marks a message body that is not a job this runner understands.
var ErrBadJob = errors.New("bad job message")

// MessageID is deterministic in (customer, profile, entity, window, step), so
// a re-fired timer or a retried send is dropped by duplicate detection.
func (j Job) MessageID() string {
	parts := []string{j.CustomerID, j.ProfileID, j.Entity, j.Window, strconv.Itoa(j.Step)}
	for i, p := range parts {
		parts[i] = idEscaper.Replace(p) // keep "a|b"+"c" apart from "a"+"b|c"
	}
	id := strings.Join(parts, "|")
	if j.Wait > 0 {
		id += "|w" + strconv.Itoa(j.Wait)
	}
	if j.Attempt > 0 {
		id += "|a" + strconv.Itoa(j.Attempt)
	}
	if j.Woken {
		id += "|k"
	}
	if len(id) <= MaxMessageIDLength {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h|" + hex.EncodeToString(sum[:])
}

// JobBodyKey is the one top-level key of a job message body. The Service
// Bus extension adds a JSON body's top-level properties to the trigger's
// binding data, which the Functions host sends as the invocation's
// Metadata, and the binding data is a case-insensitive dictionary in which
// body properties take precedence over the extension's own (azure-webjobs-sdk
// PocoTriggerArgumentBinding: "Binding data from Poco properties takes
// precedence over builtins"). A job field named like SessionId or
// DeliveryCount would silently replace the real value; nested under this
// key, no job field ever reaches the top level.
const JobBodyKey = "rostersyncJob"

// jobBody is the wire form of a job message body.
type jobBody struct {
	Job *Job `json:"rostersyncJob"`
}

// Message wraps the job for the customer's session.
func (j Job) Message(at time.Time) (Message, error) {
	body, err := json.Marshal(jobBody{Job: &j})
	if err != nil {
		return Message{}, fmt.Errorf("encode job %s: %w", j.MessageID(), err)
	}
	m := Message{
		MessageID:            j.MessageID(),
		SessionID:            j.CustomerID,
		Subject:              "sync/" + j.Entity,
		ContentType:          "application/json",
		Body:                 body,
		ScheduledEnqueueTime: at,
	}
	return m, m.Validate()
}

// DecodeJob parses and validates a job body: {"rostersyncJob": {...}}, or
// the flat job object that earlier versions sent (still read, so messages
// already queued when this version is deployed are not dead-lettered).
func DecodeJob(body []byte) (Job, error) {
	var top map[string]json.RawMessage
	if err := strictDecode(body, &top); err != nil {
		return Job{}, err
	}
	inner := body
	if raw, ok := top[JobBodyKey]; ok {
		if len(top) != 1 {
			return Job{}, fmt.Errorf("%w: %s must be the body's only key", ErrBadJob, JobBodyKey)
		}
		inner = raw
	}
	var j Job
	if err := strictDecode(inner, &j); err != nil {
		return Job{}, err
	}
	if j.Version < 1 || j.Version > JobFormatVersion {
		return Job{}, fmt.Errorf("%w: format version %d, this runner reads 1..%d", ErrBadJob, j.Version, JobFormatVersion)
	}
	var missing []string
	for name, v := range map[string]string{"customer": j.CustomerID, "profile": j.ProfileID, "run": j.RunID, "entity": j.Entity, "window": j.Window} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Job{}, fmt.Errorf("%w: missing %s", ErrBadJob, strings.Join(sortedCopy(missing), ", "))
	}
	if j.Step < 0 || j.Wait < 0 || j.Attempt < 0 {
		return Job{}, fmt.Errorf("%w: negative step %d, wait %d or attempt %d", ErrBadJob, j.Step, j.Wait, j.Attempt)
	}
	return j, nil
}

// strictDecode decodes exactly one JSON value with no unknown fields.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadJob, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the job object", ErrBadJob)
	}
	return nil
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// Result is what a job handler asks for after a successful invocation.
// A wait is a result, not an error: it becomes a scheduled follow-up message
// so the Functions worker is never blocked and the delivery count untouched.
type Result struct {
	RequeueAfter time.Duration
}

type terminalError struct{ err error }

func (t terminalError) Error() string { return t.err.Error() }
func (t terminalError) Unwrap() error { return t.err }

// Terminal marks err as one retrying cannot fix (bad feed, consent revoked):
// the runner records it and completes the message instead of retrying.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return terminalError{err}
}

// IsTerminal reports whether err, or anything it wraps, was marked Terminal.
func IsTerminal(err error) bool {
	var t terminalError
	return errors.As(err, &t)
}
