package handlers

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/queue"
)

func fixture(t *testing.T, name string) InvokeRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "invoke", name))
	if err != nil {
		t.Fatal(err)
	}
	req, err := DecodeInvokeRequest(b)
	if err != nil {
		t.Fatalf("DecodeInvokeRequest(%s) = %v", name, err)
	}
	return req
}

func TestDecodeTimer(t *testing.T) {
	tests := []struct {
		fixture string
		want    TimerInfo
	}{
		{"timer.json", TimerInfo{
			Last:   time.Date(2026, 11, 21, 1, 55, 0, 1731100, time.UTC),
			Next:   time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC),
			UtcNow: time.Date(2026, 11, 21, 2, 0, 0, 13182500, time.UTC),
		}},
		{"timer-past-due.json", TimerInfo{IsPastDue: true, UtcNow: time.Date(2026, 11, 21, 2, 7, 31, 220571300, time.UTC)}},
		// Tolerance: shapes the host does not send, still read.
		{"tolerance-timer-quoted-values.json", TimerInfo{IsPastDue: true, UtcNow: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)}},
		{"tolerance-timer-as-string.json", TimerInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got, err := DecodeTimer(fixture(t, tt.fixture), "timer")
			if err != nil {
				t.Fatalf("DecodeTimer = %v", err)
			}
			if got != tt.want {
				t.Errorf("DecodeTimer = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeServiceBus(t *testing.T) {
	wantJob := queue.Job{Version: 1, CustomerID: "oakfield", ProfileID: "nightly", RunID: "20261121T020000Z-0a1b2c3d4e", Entity: "noop", Window: "2026-11-21"}
	tests := []struct {
		fixture       string
		deliveryCount int
		sessionID     string
		sequence      int64
	}{
		{"servicebus.json", 2, "oakfield", 42},
		// Tolerance: shapes the host does not send, still read.
		{"tolerance-servicebus-single-encoded.json", 2, "oakfield", 42},
		{"tolerance-servicebus-base64.json", 3, "oakfield", 7},
		{"tolerance-servicebus-no-session.json", 1, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			m, err := DecodeServiceBus(fixture(t, tt.fixture), "job")
			if err != nil {
				t.Fatalf("DecodeServiceBus = %v", err)
			}
			if m.MessageID != "oakfield|nightly|noop|2026-11-21|0" {
				t.Errorf("MessageID = %q, want the unquoted id", m.MessageID)
			}
			if m.DeliveryCount != tt.deliveryCount || m.SessionID != tt.sessionID || m.SequenceNumber != tt.sequence {
				t.Errorf("DeliveryCount, SessionID, SequenceNumber = %d, %q, %d, want %d, %q, %d",
					m.DeliveryCount, m.SessionID, m.SequenceNumber, tt.deliveryCount, tt.sessionID, tt.sequence)
			}
			job, err := queue.DecodeJob(m.Body)
			if err != nil {
				t.Fatalf("DecodeJob(%s) = %v", m.Body, err)
			}
			if job != wantJob {
				t.Errorf("job = %+v, want %+v", job, wantJob)
			}
		})
	}
}

// TestMetadataOnlyFromDocumentedKeys: the extension merges a JSON body's
// top-level properties into the metadata, case-insensitively. The handler
// reads the documented keys only, by their exact names, so neither a body
// property spelt differently nor the job's own key changes what it reads.
func TestMetadataOnlyFromDocumentedKeys(t *testing.T) {
	req := fixture(t, "servicebus.json")
	req.Metadata["sessionId"] = json.RawMessage(`"\"evil\""`)
	req.Metadata["deliverycount"] = json.RawMessage(`"9"`)
	req.Metadata["messageID"] = json.RawMessage(`"\"forged\""`)
	m, err := DecodeServiceBus(req, "job")
	if err != nil {
		t.Fatal(err)
	}
	if m.SessionID != "oakfield" || m.DeliveryCount != 2 || m.MessageID != "oakfield|nightly|noop|2026-11-21|0" {
		t.Errorf("SessionID, DeliveryCount, MessageID = %q, %d, %q, want the documented keys' values", m.SessionID, m.DeliveryCount, m.MessageID)
	}
}

func TestDecodeHTTP(t *testing.T) {
	h, err := DecodeHTTP(fixture(t, "http.json"), "req")
	if err != nil {
		t.Fatal(err)
	}
	if h.Method != "GET" || h.URL != "http://localhost:7071/api/health" || len(h.Body) != 0 || h.Headers["Accept"][0] != "application/json" {
		t.Errorf("DecodeHTTP = %+v", h)
	}
}

func TestDecodeBadEnvelopes(t *testing.T) {
	tests := []struct {
		name, body string
		decode     func(InvokeRequest) error
	}{
		{"empty body", ``, nil},
		{"not json", `{"Data":`, nil},
		{"no Data", `{"Metadata":{}}`, nil},
		{"timer missing binding", `{"Data":{}}`, func(r InvokeRequest) error { _, err := DecodeTimer(r, "timer"); return err }},
		{"timer not an object", `{"Data":{"timer":[1]}}`, func(r InvokeRequest) error { _, err := DecodeTimer(r, "timer"); return err }},
		{"timer bad past-due", `{"Data":{"timer":{"IsPastDue":"maybe"}}}`, func(r InvokeRequest) error { _, err := DecodeTimer(r, "timer"); return err }},
		{"timer bad time", `{"Data":{"timer":{"ScheduleStatus":{"Last":"yesterday"}}}}`, func(r InvokeRequest) error { _, err := DecodeTimer(r, "timer"); return err }},
		{"timer bad sys", `{"Data":{"timer":{}},"Metadata":{"sys":7}}`, func(r InvokeRequest) error { _, err := DecodeTimer(r, "timer"); return err }},
		{"bus missing binding", `{"Data":{"other":"x"}}`, func(r InvokeRequest) error { _, err := DecodeServiceBus(r, "job"); return err }},
		{"bus bad delivery count", `{"Data":{"job":"{}"},"Metadata":{"DeliveryCount":"two"}}`, func(r InvokeRequest) error { _, err := DecodeServiceBus(r, "job"); return err }},
		{"http no method", `{"Data":{"req":{"Url":"http://x/api/health"}}}`, func(r InvokeRequest) error { _, err := DecodeHTTP(r, "req"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeInvokeRequest([]byte(tt.body))
			if err == nil && tt.decode != nil {
				err = tt.decode(req)
			}
			if !errors.Is(err, ErrBadEnvelope) {
				t.Errorf("error = %v, want ErrBadEnvelope", err)
			}
		})
	}
}

func TestDecodeBody(t *testing.T) {
	obj := `{"a":1}`
	quoted, _ := json.Marshal(obj)
	twice, _ := json.Marshal(string(quoted))
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"object", obj, obj},
		{"quoted once", string(quoted), obj},
		{"quoted twice", string(twice), obj},
		{"base64", `"eyJhIjoxfQ=="`, obj},
		{"plain text quoted twice", `"\"hello!!\""`, "hello!!"},
		{"plain text", `"hello"`, "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(DecodeBody(json.RawMessage(tt.raw))); got != tt.want {
				t.Errorf("DecodeBody(%s) = %s, want %s", tt.raw, got, tt.want)
			}
		})
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, name := range []string{"timer.json", "timer-past-due.json", "servicebus.json", "tolerance-servicebus-base64.json", "http.json"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "invoke", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeInvokeRequest(body)
		if err != nil {
			return
		}
		// None may panic; errors must be the package's.
		for _, err := range []error{
			func() error { _, err := DecodeTimer(req, "timer"); return err }(),
			func() error { _, err := DecodeServiceBus(req, "job"); return err }(),
			func() error { _, err := DecodeHTTP(req, "req"); return err }(),
		} {
			if err != nil && !errors.Is(err, ErrBadEnvelope) {
				t.Fatalf("error %v does not wrap ErrBadEnvelope", err)
			}
		}
	})
}
