package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
)

// Trigger kinds of the functions this handler serves.
type Trigger string

const (
	TriggerTimer      Trigger = "timerTrigger"
	TriggerServiceBus Trigger = "serviceBusTrigger"
	TriggerHTTP       Trigger = "httpTrigger"
)

// Function is one Azure Function served by this handler. The list must
// match functions/*/function.json; a test checks it does.
type Function struct {
	Name    string
	Trigger Trigger
	// Binding is the trigger binding's name in function.json, i.e. its key
	// in the envelope's Data.
	Binding string
}

// Function names: the folder names under functions/.
const (
	FunctionScheduler = "Scheduler"
	FunctionSyncJob   = "SyncJob"
	FunctionAPI       = "Api"
	// FunctionConsent is the anonymous admin-consent callback; a browser
	// lands on it, so it has no function key.
	FunctionConsent = "Consent"
)

// Functions is every function the handler serves.
var Functions = []Function{
	{Name: FunctionScheduler, Trigger: TriggerTimer, Binding: "timer"},
	{Name: FunctionSyncJob, Trigger: TriggerServiceBus, Binding: "job"},
	{Name: FunctionAPI, Trigger: TriggerHTTP, Binding: "req"},
	{Name: FunctionConsent, Trigger: TriggerHTTP, Binding: "req"},
}

// Pipeline is what the handler needs from the pipeline.
type Pipeline interface {
	Tick(ctx context.Context, now time.Time) (pipeline.TickReport, error)
	Handle(ctx context.Context, d queue.Delivery) pipeline.Outcome
}

var _ Pipeline = (*pipeline.Pipeline)(nil)

// maxEnvelope bounds an invocation body; Service Bus messages are at most
// 256 KiB on Standard, and the envelope adds metadata around them.
const maxEnvelope = 4 << 20

// Server is the custom handler's HTTP server.
type Server struct {
	pipeline  Pipeline
	api       http.Handler
	clock     clock.Clock
	log       *slog.Logger
	functions map[string]Function
}

// NewServer wires the handler; api serves forwarded /api/ requests.
func NewServer(p Pipeline, api http.Handler, clk clock.Clock, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	s := &Server{pipeline: p, api: api, clock: clk, log: log, functions: map[string]Function{}}
	for _, f := range Functions {
		s.functions[f.Name] = f
	}
	return s
}

// invocationIDHeader is the header with which the host names each
// invocation (azure-functions-host HttpWorkerConstants.InvocationIdHeaderName);
// log lines carry it so they can be joined to the host's own.
const invocationIDHeader = "X-Azure-Functions-InvocationId"

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug must fail one invocation (so the message is retried and,
		// in the end, dead-lettered), not the worker serving every other.
		if v := recover(); v != nil {
			s.fail(r.Context(), w, r, http.StatusInternalServerError, fmt.Sprintf("internal error in %s: %v", r.URL.Path, v), InvokeResponse{})
		}
	}()
	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		// The host polls GET / until anything answers; it gives up after
		// HttpWorkerOptions.InitializationTimeout (30 s), so this answers
		// before any dependency is opened.
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "rostersync custom handler ready\n")
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.serveAPI(w, r) // forwarded (or proxied) HTTP trigger, raw request
	default:
		s.invoke(w, r)
	}
}

// fail logs why an invocation is answered with a non-2xx status, then
// answers. The host throws the response body away on a non-2xx answer
// before it reads Logs (DefaultHttpWorkerService.ProcessDefaultInvocationRequest
// calls EnsureSuccessStatusCode first), so this log line, read from the
// handler's stderr, is the only place the reason reaches Application
// Insights.
func (s *Server) fail(ctx context.Context, w http.ResponseWriter, r *http.Request, status int, reason string, resp InvokeResponse, attrs ...any) {
	level := slog.LevelError
	if status < http.StatusInternalServerError {
		level = slog.LevelWarn
	}
	attrs = append([]any{"function", strings.Trim(r.URL.Path, "/"), "status", status, "invocation", r.Header.Get(invocationIDHeader), "reason", reason}, attrs...)
	s.log.Log(ctx, level, "invocation failed", attrs...)
	resp.Logs = append(resp.Logs, reason)
	writeEnvelope(w, status, resp)
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	name := strings.Trim(r.URL.Path, "/")
	ctx := r.Context()
	f, ok := s.functions[name]
	if !ok {
		s.fail(ctx, w, r, http.StatusNotFound, fmt.Sprintf("unknown function %q", name), InvokeResponse{})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.fail(ctx, w, r, http.StatusMethodNotAllowed, "invocations are POST", InvokeResponse{})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEnvelope))
	if err != nil {
		s.fail(ctx, w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("function %s: envelope over %d bytes or unreadable: %v", name, maxEnvelope, err), InvokeResponse{})
		return
	}
	req, err := DecodeInvokeRequest(body)
	if err != nil {
		s.fail(ctx, w, r, http.StatusBadRequest, fmt.Sprintf("function %s: %v", name, err), InvokeResponse{})
		return
	}
	switch f.Trigger {
	case TriggerTimer:
		s.timer(w, r, f, req)
	case TriggerServiceBus:
		s.serviceBus(w, r, f, req)
	case TriggerHTTP:
		s.httpEnvelope(w, r, f, req)
	}
}

func (s *Server) timer(w http.ResponseWriter, r *http.Request, f Function, req InvokeRequest) {
	ctx := r.Context()
	info, err := DecodeTimer(req, f.Binding)
	if err != nil {
		s.fail(ctx, w, r, http.StatusBadRequest, err.Error(), InvokeResponse{})
		return
	}
	now := info.UtcNow
	if now.IsZero() {
		now = s.clock.Now()
	}
	rep, err := s.pipeline.Tick(ctx, now)
	resp := InvokeResponse{Logs: rep.Lines(), ReturnValue: map[string]int{"enqueued": len(rep.Enqueued), "alreadyEnqueued": rep.AlreadyEnqueued}}
	if info.IsPastDue {
		resp.Logs = append(resp.Logs, "timer was past due; caught up with the latest window only")
	}
	if err != nil {
		// The next tick retries whatever failed; failing the invocation
		// makes the failure visible in the host's monitoring.
		s.fail(ctx, w, r, http.StatusInternalServerError, fmt.Sprintf("tick at %s: %v", now.Format(time.RFC3339), err), resp,
			"enqueued", len(rep.Enqueued))
		return
	}
	writeEnvelope(w, http.StatusOK, resp)
}

func (s *Server) serviceBus(w http.ResponseWriter, r *http.Request, f Function, req InvokeRequest) {
	ctx := r.Context()
	m, err := DecodeServiceBus(req, f.Binding)
	if err != nil {
		s.fail(ctx, w, r, http.StatusBadRequest, err.Error(), InvokeResponse{})
		return
	}
	d := queue.Delivery{
		Message:        queue.Message{MessageID: m.MessageID, SessionID: m.SessionID, ContentType: m.ContentType, Body: m.Body},
		DeliveryCount:  m.DeliveryCount,
		EnqueuedTime:   m.EnqueuedTime,
		SequenceNumber: m.SequenceNumber,
	}
	out := s.pipeline.Handle(ctx, d)
	resp := InvokeResponse{Logs: out.Log}
	if out.Disposition == pipeline.Retry {
		// Non-2xx fails the invocation: the host abandons the message and
		// Service Bus redelivers it, then dead-letters it.
		attrs := []any{"message", m.MessageID, "customer", m.SessionID, "delivery", m.DeliveryCount}
		if job, err := queue.DecodeJob(m.Body); err == nil {
			attrs = append(attrs, "run", job.RunID, "entity", job.Entity, "step", job.Step)
		}
		reason := "job failed"
		if out.Err != nil {
			reason = out.Err.Error()
		}
		s.fail(ctx, w, r, http.StatusInternalServerError, reason, resp, attrs...)
		return
	}
	writeEnvelope(w, http.StatusOK, resp)
}

// httpEnvelope serves an HTTP trigger that arrived wrapped (forwarding off):
// the request is rebuilt, served by the API, and the response wrapped in
// Outputs.res.
func (s *Server) httpEnvelope(w http.ResponseWriter, r *http.Request, f Function, req InvokeRequest) {
	ctx := r.Context()
	h, err := DecodeHTTP(req, f.Binding)
	if err != nil {
		s.fail(ctx, w, r, http.StatusBadRequest, err.Error(), InvokeResponse{})
		return
	}
	inner, err := http.NewRequestWithContext(ctx, h.Method, h.URL, strings.NewReader(string(h.Body)))
	if err != nil {
		s.fail(ctx, w, r, http.StatusBadRequest, fmt.Sprintf("%v: Data.%s.Url: %v", ErrBadEnvelope, f.Binding, err), InvokeResponse{})
		return
	}
	for k, vs := range h.Headers {
		for _, v := range vs {
			inner.Header.Add(k, v)
		}
	}
	inner.Header.Set(invocationIDHeader, r.Header.Get(invocationIDHeader))
	rec := httptest.NewRecorder()
	s.serveAPI(rec, inner)
	headers := map[string]string{}
	for k := range rec.Header() {
		headers[k] = rec.Header().Get(k)
	}
	res := map[string]any{"statusCode": strconv.Itoa(rec.Code), "body": rec.Body.String(), "headers": headers}
	writeEnvelope(w, http.StatusOK, InvokeResponse{Outputs: map[string]any{"res": res}})
}

func writeEnvelope(w http.ResponseWriter, status int, resp InvokeResponse) {
	if resp.Outputs == nil {
		resp.Outputs = map[string]any{}
	}
	if resp.Logs == nil {
		resp.Logs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}

// ListenAddr returns the loopback address the host asked for through
// FUNCTIONS_CUSTOMHANDLER_PORT (or its older name).
func ListenAddr(getenv func(string) string) (string, error) {
	port := getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		port = getenv("FUNCTIONS_HTTPWORKER_PORT")
	}
	if port == "" {
		return "", errors.New("FUNCTIONS_CUSTOMHANDLER_PORT is not set: the Functions host sets it; set it by hand to run the handler alone")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("FUNCTIONS_CUSTOMHANDLER_PORT=%q: want a port number", port)
	}
	return "127.0.0.1:" + port, nil
}
