package handlers

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/pipeline"
)

func TestLogHandlerSplitsByLevel(t *testing.T) {
	var stdout, stderr bytes.Buffer
	log := slog.New(NewLogHandler(&stdout, &stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("run", "r1")
	log.Debug("debug line")
	log.Info("info line\nwith a newline", "customer", "oakfield")
	log.Warn("warn line")
	log.Error("error line", "entity", "users")
	out, errs := stdout.String(), stderr.String()
	if strings.Contains(errs, "info line") || strings.Contains(errs, "debug line") {
		t.Errorf("INFO or DEBUG reached stderr, which the host records as Error:\n%s", errs)
	}
	if !strings.Contains(out, "debug line") || !strings.Contains(out, "info line") {
		t.Errorf("stdout = %q, want the DEBUG and INFO lines", out)
	}
	if !strings.Contains(errs, "warn line") || !strings.Contains(errs, "error line") || strings.Contains(out, "line\" level=WARN") {
		t.Errorf("stderr = %q, want the WARN and ERROR lines", errs)
	}
	// One line per record, each with the logger's ids.
	for _, stream := range []string{out, errs} {
		lines := strings.Split(strings.TrimSuffix(stream, "\n"), "\n")
		if len(lines) != 2 {
			t.Errorf("%d lines, want 2 (one per record): %q", len(lines), stream)
		}
		for _, l := range lines {
			if !strings.Contains(l, "run=r1") {
				t.Errorf("line %q lacks run=r1", l)
			}
		}
	}
	// The host maps a stderr line to Warning only when it contains "warn".
	for _, l := range strings.Split(strings.TrimSpace(errs), "\n") {
		if strings.Contains(l, "warn line") != strings.Contains(strings.ToLower(l), "warn") {
			t.Errorf("stderr line %q: host level would be wrong", l)
		}
	}
}

// orderCheck is a ResponseWriter that records whether the log already
// held a line when the status was written.
type orderCheck struct {
	*httptest.ResponseRecorder
	log      *bytes.Buffer
	loggedAt string
}

func (o *orderCheck) WriteHeader(code int) {
	o.loggedAt = o.log.String()
	o.ResponseRecorder.WriteHeader(code)
}

// TestNon2xxIsLoggedFirst: the host discards a non-2xx response's body, so
// every non-2xx answer must be preceded by a log line with its reason.
func TestNon2xxIsLoggedFirst(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		p                        *fakePipeline
		reason                   string
	}{
		{"unknown function", http.MethodPost, "/Nope", `{"Data":{}}`, &fakePipeline{}, `unknown function`},
		{"wrong method", http.MethodGet, "/Scheduler", ``, &fakePipeline{}, "invocations are POST"},
		{"malformed envelope", http.MethodPost, "/Scheduler", `{"Data":`, &fakePipeline{}, "bad invocation envelope"},
		{"tick failed", http.MethodPost, "/Scheduler", `{"Data":{"timer":{}}}`, &fakePipeline{tickErr: errors.New("store down")}, "store down"},
		{"job failed", http.MethodPost, "/SyncJob", `{"Data":{"job":"{}"},"Metadata":{"MessageId":"\"m1\"","SessionId":"\"oakfield\""}}`,
			&fakePipeline{outcome: pipeline.Outcome{Disposition: pipeline.Retry, Err: errors.New("graph 503")}}, "graph 503"},
		{"panic", http.MethodPost, "/SyncJob", `{"Data":{"job":"panic"}}`, &fakePipeline{}, "entity bug"},
		{"api 404", http.MethodGet, "/api/nothing-here", ``, &fakePipeline{}, "404"},
		{"api refused path", http.MethodGet, "/api/customers/a%3Fb", ``, &fakePipeline{}, "percent-encoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			s := newTestServerLog(tt.p, slog.New(NewLogHandler(&stdout, &stderr, nil)))
			w := &orderCheck{ResponseRecorder: httptest.NewRecorder(), log: &stderr}
			s.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			if w.Code < 300 {
				t.Fatalf("%s %s = %d, want a failure", tt.method, tt.path, w.Code)
			}
			if !strings.Contains(w.loggedAt, tt.reason) && !strings.Contains(w.loggedAt, "status="+tt.reason) {
				t.Errorf("when status %d was written, stderr held %q, want a line with %q", w.Code, w.loggedAt, tt.reason)
			}
			if stdout.Len() != 0 {
				t.Errorf("failure logged on stdout: %q", stdout.String())
			}
		})
	}
}

func newTestServerLog(p Pipeline, log *slog.Logger) *Server {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("forwarded ok")) })
	api.HandleFunc("GET /api/customers/{customer}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(r.PathValue("customer"))) })
	api.HandleFunc("POST /api/echo", func(w http.ResponseWriter, r *http.Request) {
		b := new(bytes.Buffer)
		_, _ = b.ReadFrom(r.Body)
		_, _ = w.Write(b.Bytes())
	})
	return NewServer(p, api, nil, log)
}
