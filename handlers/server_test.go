package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
)

type fakePipeline struct {
	ticks      []time.Time
	tickErr    error
	deliveries []queue.Delivery
	outcome    pipeline.Outcome
}

func (f *fakePipeline) Tick(ctx context.Context, now time.Time) (pipeline.TickReport, error) {
	f.ticks = append(f.ticks, now)
	rep := pipeline.TickReport{At: now, Profiles: 1, Enqueued: []runs.Run{{ID: "r1", CustomerID: "c", ProfileID: "p", Window: "2026-11-21"}}}
	return rep, f.tickErr
}

func (f *fakePipeline) Handle(ctx context.Context, d queue.Delivery) pipeline.Outcome {
	if string(d.Body) == "panic" {
		panic("entity bug")
	}
	f.deliveries = append(f.deliveries, d)
	return f.outcome
}

func newTestServer(p Pipeline) *Server {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "forwarded ok") })
	return NewServer(p, api, nil, nil)
}

func post(t *testing.T, s http.Handler, path, fixtureName string) (*httptest.ResponseRecorder, InvokeResponse) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "testdata", "invoke", fixtureName))
	if err != nil {
		t.Fatal(err)
	}
	return postBody(t, s, path, string(body))
}

func postBody(t *testing.T, s http.Handler, path, body string) (*httptest.ResponseRecorder, InvokeResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	var resp InvokeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("POST %s: response is not an envelope: %v: %s", path, err, rec.Body)
	}
	return rec, resp
}

func TestReadiness(t *testing.T) {
	rec := httptest.NewRecorder()
	newTestServer(&fakePipeline{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET / = %d, want 200", rec.Code)
	}
}

func TestTimerInvocation(t *testing.T) {
	p := &fakePipeline{}
	rec, resp := post(t, newTestServer(p), "/Scheduler", "timer.json")
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /Scheduler = %d, want 200: %s", rec.Code, rec.Body)
	}
	if len(p.ticks) != 1 || !p.ticks[0].Equal(time.Date(2026, 11, 21, 2, 0, 0, 13182500, time.UTC)) {
		t.Errorf("ticks = %v, want one at the envelope's UtcNow", p.ticks)
	}
	if len(resp.Logs) < 2 || !strings.Contains(resp.Logs[1], "enqueued run r1") {
		t.Errorf("Logs = %q, want the enqueued run", resp.Logs)
	}
	if resp.Outputs == nil {
		t.Error("Outputs missing; the host expects an object")
	}
}

func TestTimerFailureIsNon2xx(t *testing.T) {
	p := &fakePipeline{tickErr: errors.New("store down")}
	rec, _ := post(t, newTestServer(p), "/Scheduler", "timer.json")
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("POST /Scheduler with failing tick = %d, want 500", rec.Code)
	}
}

func TestServiceBusInvocation(t *testing.T) {
	tests := []struct {
		name    string
		outcome pipeline.Outcome
		want    int
	}{
		{"done", pipeline.Outcome{Log: []string{"ok"}}, http.StatusOK},
		{"terminal failure is completed", pipeline.Outcome{Err: queue.Terminal(errors.New("bad feed"))}, http.StatusOK},
		{"retry", pipeline.Outcome{Disposition: pipeline.Retry, Err: errors.New("graph 503")}, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakePipeline{outcome: tt.outcome}
			rec, _ := post(t, newTestServer(p), "/SyncJob", "servicebus.json")
			if rec.Code != tt.want {
				t.Errorf("POST /SyncJob = %d, want %d", rec.Code, tt.want)
			}
			if len(p.deliveries) != 1 {
				t.Fatalf("deliveries = %d, want 1", len(p.deliveries))
			}
			d := p.deliveries[0]
			if d.MessageID != "oakfield|nightly|noop|2026-11-21|0" || d.DeliveryCount != 2 || d.SessionID != "oakfield" {
				t.Errorf("delivery = %+v", d)
			}
		})
	}
}

func TestHTTPEnvelope(t *testing.T) {
	rec, resp := post(t, newTestServer(&fakePipeline{}), "/Api", "http.json")
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /Api = %d", rec.Code)
	}
	res, _ := resp.Outputs["res"].(map[string]any)
	if res["statusCode"] != "200" || res["body"] != "forwarded ok" {
		t.Errorf("Outputs.res = %v, want 200 and the API's body", res)
	}
}

func TestForwardedHTTP(t *testing.T) {
	rec := httptest.NewRecorder()
	newTestServer(&fakePipeline{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/health", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "forwarded ok" {
		t.Errorf("GET /api/health = %d %q", rec.Code, rec.Body)
	}
}

func TestBadInvocations(t *testing.T) {
	s := newTestServer(&fakePipeline{})
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"unknown function", http.MethodPost, "/Nope", `{"Data":{}}`, http.StatusNotFound},
		{"wrong method", http.MethodGet, "/Scheduler", ``, http.StatusMethodNotAllowed},
		{"malformed envelope", http.MethodPost, "/Scheduler", `{"Data":`, http.StatusBadRequest},
		{"missing binding", http.MethodPost, "/SyncJob", `{"Data":{}}`, http.StatusBadRequest},
		{"oversized", http.MethodPost, "/SyncJob", `{"Data":{"job":"` + strings.Repeat("x", maxEnvelope) + `"}}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			if rec.Code != tt.want {
				t.Errorf("%s %s = %d, want %d: %s", tt.method, tt.path, rec.Code, tt.want, rec.Body)
			}
			var resp InvokeResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Logs) == 0 {
				t.Errorf("response %q is not an envelope with a reason", rec.Body)
			}
		})
	}
}

// TestFunctionsMatchFolders keeps the handler's function table and the
// function.json files the host reads in agreement.
func TestFunctionsMatchFolders(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != len(Functions) {
		t.Errorf("functions/ has %d function.json files, the handler serves %d functions", len(dirs), len(Functions))
	}
	for _, f := range Functions {
		b, err := os.ReadFile(filepath.Join("..", "functions", f.Name, "function.json"))
		if err != nil {
			t.Errorf("function %s: %v", f.Name, err)
			continue
		}
		var fj struct {
			Bindings []struct {
				Name, Type, Direction string
				IsSessionsEnabled     bool
			}
		}
		if err := json.Unmarshal(b, &fj); err != nil {
			t.Errorf("function %s: %v", f.Name, err)
			continue
		}
		found := false
		for _, bd := range fj.Bindings {
			if bd.Direction == "in" && bd.Type == string(f.Trigger) {
				found = true
				if bd.Name != f.Binding {
					t.Errorf("function %s: binding name %q in function.json, %q in the handler", f.Name, bd.Name, f.Binding)
				}
				if f.Trigger == TriggerServiceBus && !bd.IsSessionsEnabled {
					t.Errorf("function %s: the job queue must be session-enabled (SessionId = customer)", f.Name)
				}
			}
		}
		if !found {
			t.Errorf("function %s: no %s trigger in function.json", f.Name, f.Trigger)
		}
	}
}

func TestListenAddr(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    string
		wantErr bool
	}{
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7777"}, "127.0.0.1:7777", false},
		{map[string]string{"FUNCTIONS_HTTPWORKER_PORT": "8888"}, "127.0.0.1:8888", false},
		{map[string]string{}, "", true},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "http"}, "", true},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "70000"}, "", true},
	}
	for _, tt := range tests {
		got, err := ListenAddr(func(k string) string { return tt.env[k] })
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ListenAddr(%v) = %q, %v, want %q (error %t)", tt.env, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestPanicFailsOnlyTheInvocation(t *testing.T) {
	rec, resp := postBody(t, newTestServer(&fakePipeline{}), "/SyncJob", `{"Data":{"job":"panic"},"Metadata":{"MessageId":"m1"}}`)
	if rec.Code != http.StatusInternalServerError || len(resp.Logs) == 0 || !strings.Contains(resp.Logs[0], "entity bug") {
		t.Errorf("panicking handler = %d %q, want 500 with the reason", rec.Code, resp.Logs)
	}
}
