package queue

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func job() Job {
	return Job{Version: 1, CustomerID: "oakfield", ProfileID: "nightly", RunID: "r1", Entity: "users", Window: "2026-11-21"}
}

func TestMessageIDIsDeterministicAndDistinct(t *testing.T) {
	a, b := job(), job()
	if a.MessageID() != b.MessageID() {
		t.Fatalf("same job, different ids %q, %q", a.MessageID(), b.MessageID())
	}
	variants := []func(*Job){
		func(j *Job) { j.Step = 1 },
		func(j *Job) { j.Wait = 1 },
		func(j *Job) { j.Entity = "groups" },
		func(j *Job) { j.Window = "2026-11-22" },
		func(j *Job) { j.CustomerID, j.ProfileID = "oakfield|nightly", "" },
		func(j *Job) { j.CustomerID, j.ProfileID = "oak", "field|nightly" },
	}
	seen := map[string]bool{a.MessageID(): true}
	for i, mutate := range variants {
		j := job()
		mutate(&j)
		id := j.MessageID()
		if seen[id] {
			t.Errorf("variant %d: id %q collides", i, id)
		}
		seen[id] = true
	}
	long := job()
	long.Window = strings.Repeat("w", 200)
	if id := long.MessageID(); len(id) > MaxMessageIDLength {
		t.Errorf("long job id is %d characters, want at most %d", len(id), MaxMessageIDLength)
	}
}

func TestJobRoundTrip(t *testing.T) {
	want := job()
	want.Step, want.Cursor = 2, "delta:abc"
	m, err := want.Message(time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if m.SessionID != "oakfield" || m.MessageID != want.MessageID() || m.ScheduledEnqueueTime.IsZero() {
		t.Errorf("message = %+v", m)
	}
	got, err := DecodeJob(m.Body)
	if err != nil || got != want {
		t.Errorf("DecodeJob = %+v, %v, want %+v", got, err, want)
	}
}

func TestDecodeJobRejects(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{"v":1}`, `{"v":2,"customer":"c","profile":"p","run":"r","entity":"e","window":"w"}`,
		`{"v":1,"customer":"c","profile":"p","run":"r","entity":"e","window":"w","extra":1}`,
		`{"v":1,"customer":"c","profile":"p","run":"r","entity":"e","window":"w"} {"more":true}`,
		`{"v":1,"customer":"c","profile":"p","run":"r","entity":"e","window":"w","step":-1}`,
	} {
		if _, err := DecodeJob([]byte(body)); !errors.Is(err, ErrBadJob) {
			t.Errorf("DecodeJob(%q) = %v, want ErrBadJob", body, err)
		}
	}
}

func TestTerminal(t *testing.T) {
	base := errors.New("consent revoked")
	err := Terminal(base)
	if !IsTerminal(err) || !errors.Is(err, base) {
		t.Errorf("Terminal(%v): IsTerminal %t, Is base %t", base, IsTerminal(err), errors.Is(err, base))
	}
	if IsTerminal(base) || Terminal(nil) != nil {
		t.Error("plain errors are not terminal; Terminal(nil) is nil")
	}
}

func TestMessageValidate(t *testing.T) {
	ok := Message{MessageID: "id", SessionID: "s", Body: []byte("x")}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		m    Message
		want error
	}{
		{Message{}, ErrInvalidMessage},
		{Message{MessageID: strings.Repeat("i", 129)}, ErrInvalidMessage},
		{Message{MessageID: "id", SessionID: strings.Repeat("s", 129)}, ErrInvalidMessage},
		{Message{MessageID: "id", Body: make([]byte, MaxMessageSize+1)}, ErrMessageTooLarge},
	}
	for _, tt := range tests {
		if err := tt.m.Validate(); !errors.Is(err, tt.want) {
			t.Errorf("Validate(%.40q…) = %v, want %v", tt.m.MessageID, err, tt.want)
		}
	}
}

// TestJobBodyHasOneNamespacedKey: the Service Bus extension merges a JSON
// body's top-level properties into the trigger metadata, case-insensitively
// and ahead of its own; a job body exposes one key that no documented
// metadata key can equal.
func TestJobBodyHasOneNamespacedKey(t *testing.T) {
	m, err := job().Message(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(m.Body, &top); err != nil {
		t.Fatal(err)
	}
	if len(top) != 1 || top[JobBodyKey] == nil {
		t.Fatalf("body %s: want the job under %q only", m.Body, JobBodyKey)
	}
	for _, meta := range []string{"DeliveryCount", "DeadLetterSource", "LockToken", "ExpiresAtUtc", "ExpiresAt", "EnqueuedTimeUtc",
		"EnqueuedTime", "MessageId", "ContentType", "ReplyTo", "SequenceNumber", "To", "Subject", "Label", "CorrelationId",
		"ApplicationProperties", "UserProperties", "SessionId", "ReplyToSessionId", "PartitionKey", "TransactionPartitionKey", "sys"} {
		if strings.EqualFold(meta, JobBodyKey) {
			t.Errorf("job body key %q collides with metadata key %q", JobBodyKey, meta)
		}
	}
}

func TestDecodeJobReadsTheFlatFormOfEarlierVersions(t *testing.T) {
	got, err := DecodeJob([]byte(`{"v":1,"customer":"oakfield","profile":"nightly","run":"r1","entity":"users","window":"2026-11-21"}`))
	if err != nil || got != job() {
		t.Errorf("DecodeJob(flat) = %+v, %v, want %+v", got, err, job())
	}
	if _, err := DecodeJob([]byte(`{"rostersyncJob":{"v":1,"customer":"c","profile":"p","run":"r","entity":"e","window":"w"},"sessionId":"x"}`)); !errors.Is(err, ErrBadJob) {
		t.Errorf("DecodeJob with a key beside %s = %v, want ErrBadJob", JobBodyKey, err)
	}
}
