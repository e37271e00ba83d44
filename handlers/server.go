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
)

// Functions is every function the handler serves.
var Functions = []Function{
	{Name: FunctionScheduler, Trigger: TriggerTimer, Binding: "timer"},
	{Name: FunctionSyncJob, Trigger: TriggerServiceBus, Binding: "job"},
	{Name: FunctionAPI, Trigger: TriggerHTTP, Binding: "req"},
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

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug must fail one invocation (so the message is retried and,
		// in the end, dead-lettered), not the worker serving every other.
		if v := recover(); v != nil {
			s.log.ErrorContext(r.Context(), "handler panic", "path", r.URL.Path, "panic", v)
			writeEnvelope(w, http.StatusInternalServerError, InvokeResponse{Logs: []string{fmt.Sprintf("internal error in %s: %v", r.URL.Path, v)}})
		}
	}()
	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		// The host polls GET / until anything answers.
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "rostersync custom handler ready\n")
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.api.ServeHTTP(w, r) // forwarded HTTP trigger, raw request
	default:
		s.invoke(w, r)
	}
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	name := strings.Trim(r.URL.Path, "/")
	f, ok := s.functions[name]
	if !ok {
		writeEnvelope(w, http.StatusNotFound, InvokeResponse{Logs: []string{fmt.Sprintf("unknown function %q", name)}})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeEnvelope(w, http.StatusMethodNotAllowed, InvokeResponse{Logs: []string{"invocations are POST"}})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEnvelope))
	if err != nil {
		writeEnvelope(w, http.StatusRequestEntityTooLarge, InvokeResponse{Logs: []string{fmt.Sprintf("function %s: envelope over %d bytes or unreadable: %v", name, maxEnvelope, err)}})
		return
	}
	req, err := DecodeInvokeRequest(body)
	if err != nil {
		writeEnvelope(w, http.StatusBadRequest, InvokeResponse{Logs: []string{fmt.Sprintf("function %s: %v", name, err)}})
		return
	}
	ctx := r.Context()
	var status int
	var resp InvokeResponse
	switch f.Trigger {
	case TriggerTimer:
		status, resp = s.timer(ctx, f, req)
	case TriggerServiceBus:
		status, resp = s.serviceBus(ctx, f, req)
	case TriggerHTTP:
		status, resp = s.httpEnvelope(r, f, req)
	}
	writeEnvelope(w, status, resp)
}

func (s *Server) timer(ctx context.Context, f Function, req InvokeRequest) (int, InvokeResponse) {
	info, err := DecodeTimer(req, f.Binding)
	if err != nil {
		return http.StatusBadRequest, InvokeResponse{Logs: []string{err.Error()}}
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
		return http.StatusInternalServerError, resp
	}
	return http.StatusOK, resp
}

func (s *Server) serviceBus(ctx context.Context, f Function, req InvokeRequest) (int, InvokeResponse) {
	m, err := DecodeServiceBus(req, f.Binding)
	if err != nil {
		return http.StatusBadRequest, InvokeResponse{Logs: []string{err.Error()}}
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
		return http.StatusInternalServerError, resp
	}
	return http.StatusOK, resp
}

// httpEnvelope serves an HTTP trigger that arrived wrapped (forwarding off):
// the request is rebuilt, served by the API, and the response wrapped in
// Outputs.res.
func (s *Server) httpEnvelope(r *http.Request, f Function, req InvokeRequest) (int, InvokeResponse) {
	h, err := DecodeHTTP(req, f.Binding)
	if err != nil {
		return http.StatusBadRequest, InvokeResponse{Logs: []string{err.Error()}}
	}
	inner, err := http.NewRequestWithContext(r.Context(), h.Method, h.URL, strings.NewReader(string(h.Body)))
	if err != nil {
		return http.StatusBadRequest, InvokeResponse{Logs: []string{fmt.Sprintf("%v: Data.%s.Url: %v", ErrBadEnvelope, f.Binding, err)}}
	}
	for k, vs := range h.Headers {
		for _, v := range vs {
			inner.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	s.api.ServeHTTP(rec, inner)
	headers := map[string]string{}
	for k := range rec.Header() {
		headers[k] = rec.Header().Get(k)
	}
	res := map[string]any{"statusCode": strconv.Itoa(rec.Code), "body": rec.Body.String(), "headers": headers}
	return http.StatusOK, InvokeResponse{Outputs: map[string]any{"res": res}}
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
