package devhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/ncrontab"
	"github.com/rostersync/rostersync/internal/queue/membroker"
)

// Options configure a local host.
type Options struct {
	// Root holds host.json and one folder per function (the layout of the
	// deployed package). FunctionsDir overrides where the folders are.
	Root         string
	FunctionsDir string
	// HandlerURL is the custom handler's base URL (http://127.0.0.1:PORT).
	HandlerURL string
	Broker     *membroker.Broker
	// QueueOptions are used to create each trigger's queue; RequiresSession
	// is taken from the binding's isSessionsEnabled.
	QueueOptions membroker.QueueOptions
	Clock        clock.Clock
	// Getenv resolves %Setting% references (nil: no settings).
	Getenv func(string) string
	// HTTPAddr is where forwarded HTTP triggers are served ("" disables).
	HTTPAddr string
	// FunctionKey, when set, is required on functions whose authLevel is
	// not anonymous, as the host requires its keys.
	FunctionKey string
	Log         *slog.Logger
	// Client calls the handler; nil uses a client with the host's timeout.
	Client *http.Client
}

// Host runs functions against a custom handler.
type Host struct {
	opts      Options
	cfg       HostConfig
	functions []Function
	queues    map[string]string // function name -> resolved queue name
	client    *http.Client
	log       *slog.Logger
	listener  net.Listener

	mu       sync.Mutex
	lastFire map[string]time.Time
}

// New loads the function definitions and creates the queues they read.
func New(opts Options) (*Host, error) {
	if opts.HandlerURL == "" || opts.Broker == nil {
		return nil, errors.New("devhost: HandlerURL and Broker are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.FunctionsDir == "" {
		opts.FunctionsDir = opts.Root
	}
	cfg, err := LoadHostConfig(filepath.Join(opts.Root, "host.json"))
	if err != nil {
		return nil, err
	}
	fns, err := LoadFunctions(opts.FunctionsDir)
	if err != nil {
		return nil, err
	}
	h := &Host{opts: opts, cfg: cfg, functions: fns, queues: map[string]string{}, log: opts.Log, lastFire: map[string]time.Time{}}
	h.client = opts.Client
	if h.client == nil {
		// The host waits functionTimeout + 1 minute for the handler.
		timeout := 31 * time.Minute
		if d, err := parseTimeSpan(cfg.FunctionTimeout); err == nil && d > 0 {
			timeout = d + time.Minute
		}
		h.client = &http.Client{Timeout: timeout}
	}
	for _, f := range fns {
		trig, _ := f.Trigger()
		switch trig.Type {
		case "timerTrigger":
			if _, err := ncrontab.Parse(trig.Schedule); err != nil {
				return nil, fmt.Errorf("function %s: %w", f.Name, err)
			}
		case "serviceBusTrigger":
			name, err := ResolveSettings(trig.QueueName, opts.Getenv)
			if err != nil {
				return nil, fmt.Errorf("function %s queueName: %w", f.Name, err)
			}
			qo := opts.QueueOptions
			qo.RequiresSession = trig.IsSessionsEnabled
			if err := opts.Broker.CreateQueue(name, qo); err != nil && !errors.Is(err, membroker.ErrQueueExists) {
				return nil, fmt.Errorf("function %s: create queue %s: %w", f.Name, name, err)
			}
			h.queues[f.Name] = name
		case "httpTrigger":
		default:
			return nil, fmt.Errorf("function %s: the local host does not run %s triggers", f.Name, trig.Type)
		}
	}
	return h, nil
}

// Functions returns the loaded function definitions.
func (h *Host) Functions() []Function { return h.functions }

// Queues returns the queue names the host's triggers read, by function.
func (h *Host) Queues() map[string]string { return h.queues }

// parseTimeSpan reads host.json's hh:mm:ss durations.
func parseTimeSpan(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("time span %q: want hh:mm:ss", s)
	}
	var total time.Duration
	for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
		n, err := strconv.ParseFloat(parts[i], 64)
		if err != nil {
			return 0, fmt.Errorf("time span %q: %w", s, err)
		}
		total += time.Duration(n * float64(unit))
	}
	return total, nil
}

// Start opens the HTTP listener, so URL is known before Run.
func (h *Host) Start() error {
	if h.opts.HTTPAddr == "" || h.listener != nil {
		return nil
	}
	ln, err := net.Listen("tcp", h.opts.HTTPAddr)
	if err != nil {
		return fmt.Errorf("devhost: listen on %s: %w", h.opts.HTTPAddr, err)
	}
	h.listener = ln
	return nil
}

// URL is the public base URL of the HTTP functions ("" before Start or when
// HTTP is off).
func (h *Host) URL() string {
	if h.listener == nil {
		return ""
	}
	return "http://" + h.listener.Addr().String()
}

// Run fires timers, pumps queues and serves HTTP until ctx ends.
func (h *Host) Run(ctx context.Context) error {
	if err := h.Start(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(h.functions)+1)
	for _, f := range h.functions {
		trig, _ := f.Trigger()
		if h.Disabled(f.Name) {
			h.log.InfoContext(ctx, "function disabled by setting", "function", f.Name, "setting", disabledSetting(f.Name))
			continue
		}
		switch trig.Type {
		case "timerTrigger":
			wg.Go(func() { h.runTimer(ctx, f, trig) })
		case "serviceBusTrigger":
			workers := h.cfg.Extensions.ServiceBus.MaxConcurrentSessions
			if !trig.IsSessionsEnabled {
				workers = h.cfg.Extensions.ServiceBus.MaxConcurrentCalls
			}
			workers = max(workers, 1)
			for range workers {
				wg.Go(func() { h.pump(ctx, f, trig) })
			}
		}
	}
	if h.listener != nil {
		srv := &http.Server{Handler: h.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Go(func() {
			if err := srv.Serve(h.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shut)
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(func() []error {
		var out []error
		for err := range errs {
			out = append(out, err)
		}
		return out
	}()...)
}

// disabledSetting is the app setting with which Azure disables a function.
func disabledSetting(function string) string { return "AzureWebJobs." + function + ".Disabled" }

// Disabled reports whether the function is switched off by its
// AzureWebJobs.<Name>.Disabled setting. A disabled timer can still be
// fired by hand (FireTimer), as the portal's "Run" button does.
func (h *Host) Disabled(function string) bool {
	v, err := strconv.ParseBool(h.opts.Getenv(disabledSetting(function)))
	return err == nil && v
}

// Invocation is the handler's answer to one invocation.
type Invocation struct {
	Function string
	Status   int
	Logs     []string
	Return   json.RawMessage
}

// invoke POSTs an envelope to the handler as the host does.
func (h *Host) invoke(ctx context.Context, function string, data, metadata map[string]any) (Invocation, error) {
	inv := Invocation{Function: function}
	body, err := json.Marshal(map[string]any{"Data": data, "Metadata": metadata})
	if err != nil {
		return inv, fmt.Errorf("invoke %s: %w", function, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(h.opts.HandlerURL, "/")+"/"+function, bytes.NewReader(body))
	if err != nil {
		return inv, fmt.Errorf("invoke %s: %w", function, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", newGUID())
	req.Header.Set("X-Azure-Functions-HostVersion", "4.1000.0-rostersync-dev")
	req.Header.Set("User-Agent", "Azure-Functions-Host/4.1000.0 (rostersync dev)")
	resp, err := h.client.Do(req)
	if err != nil {
		return inv, fmt.Errorf("invoke %s: %w", function, err)
	}
	defer resp.Body.Close()
	inv.Status = resp.StatusCode
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return inv, fmt.Errorf("invoke %s: read response: %w", function, err)
	}
	var env struct {
		Logs        []string
		ReturnValue json.RawMessage
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return inv, fmt.Errorf("invoke %s: status %d, response is not an envelope: %.200s", function, resp.StatusCode, raw)
	}
	inv.Logs, inv.Return = env.Logs, env.ReturnValue
	for _, line := range env.Logs {
		h.log.InfoContext(ctx, line, "function", function)
	}
	return inv, nil
}

// Succeeded mirrors the host: any non-2xx fails the invocation.
func (inv Invocation) Succeeded() bool { return inv.Status >= 200 && inv.Status < 300 }

func sysMetadata(function string, now time.Time) map[string]any {
	return map[string]any{"MethodName": function, "UtcNow": now.UTC().Format(time.RFC3339Nano), "RandGuid": newGUID()}
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// FireTimer invokes a timer function now, as a schedule occurrence would.
func (h *Host) FireTimer(ctx context.Context, function string) (Invocation, error) {
	for _, f := range h.functions {
		if trig, _ := f.Trigger(); f.Name == function && trig.Type == "timerTrigger" {
			return h.fire(ctx, f, trig, h.opts.Clock.Now(), false)
		}
	}
	return Invocation{}, fmt.Errorf("no timer function %q", function)
}

func (h *Host) fire(ctx context.Context, f Function, trig Binding, now time.Time, pastDue bool) (Invocation, error) {
	sched, _ := ncrontab.Parse(trig.Schedule) // checked in New
	h.mu.Lock()
	last := h.lastFire[f.Name]
	h.lastFire[f.Name] = now
	h.mu.Unlock()
	status := map[string]any{"Next": sched.Next(now.UTC()).Format(time.RFC3339Nano), "LastUpdated": now.UTC().Format(time.RFC3339Nano)}
	if !last.IsZero() {
		status["Last"] = last.UTC().Format(time.RFC3339Nano)
	}
	timer := map[string]any{"Schedule": map[string]any{"AdjustForDST": true}, "ScheduleStatus": status, "IsPastDue": pastDue}
	return h.invoke(ctx, f.Name, map[string]any{trig.Name: timer}, map[string]any{"sys": sysMetadata(f.Name, now)})
}

func (h *Host) runTimer(ctx context.Context, f Function, trig Binding) {
	sched, _ := ncrontab.Parse(trig.Schedule)
	if trig.RunOnStartup {
		h.fireLogged(ctx, f, trig, h.opts.Clock.Now(), false)
	}
	for {
		now := h.opts.Clock.Now()
		next := sched.Next(now.UTC())
		if next.IsZero() {
			h.log.WarnContext(ctx, "timer never fires", "function", f.Name, "schedule", trig.Schedule)
			return
		}
		if !clock.Sleep(ctx, h.opts.Clock, next.Sub(now)) {
			return
		}
		fired := h.opts.Clock.Now()
		h.fireLogged(ctx, f, trig, fired, fired.Sub(next) > time.Minute)
	}
}

func (h *Host) fireLogged(ctx context.Context, f Function, trig Binding, now time.Time, pastDue bool) {
	inv, err := h.fire(ctx, f, trig, now, pastDue)
	switch {
	case err != nil && ctx.Err() == nil:
		h.log.ErrorContext(ctx, "timer invocation failed", "function", f.Name, "error", err)
	case err == nil && !inv.Succeeded():
		h.log.WarnContext(ctx, "timer invocation returned failure", "function", f.Name, "status", inv.Status)
	}
}

// pump is one consumer of a queue trigger: with sessions it holds one
// session at a time and delivers its messages one by one, in order.
func (h *Host) pump(ctx context.Context, f Function, trig Binding) {
	queueName := h.queues[f.Name]
	for ctx.Err() == nil {
		if !trig.IsSessionsEnabled {
			msgs, err := h.opts.Broker.Receive(ctx, queueName, 1)
			if err != nil {
				return
			}
			for _, m := range msgs {
				h.deliver(ctx, f, trig, queueName, m)
			}
			continue
		}
		sr, err := h.opts.Broker.AcceptNextSession(ctx, queueName)
		if err != nil {
			return
		}
		for ctx.Err() == nil {
			msgs, err := sr.Receive(ctx, 1)
			if err != nil || len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				h.deliver(ctx, f, trig, queueName, m)
			}
		}
		sr.Close()
	}
}

// deliver invokes the handler with a message and settles it the way the
// Service Bus extension does with autoComplete: complete on success,
// abandon on failure (Service Bus then dead-letters after the queue's
// maximum delivery count).
func (h *Host) deliver(ctx context.Context, f Function, trig Binding, queueName string, m *membroker.Locked) {
	now := h.opts.Clock.Now()
	meta := map[string]any{
		"DeliveryCount":         strconv.Itoa(m.DeliveryCount),
		"LockToken":             quoteJSON(newGUID()),
		"MessageId":             quoteJSON(m.MessageID),
		"ContentType":           quoteJSON(m.ContentType),
		"SequenceNumber":        strconv.FormatInt(m.SequenceNumber, 10),
		"EnqueuedTimeUtc":       m.EnqueuedTime.UTC().Format("2006-01-02T15:04:05"),
		"EnqueuedTime":          m.EnqueuedTime.UTC().Format("2006-01-02T15:04:05+00:00"),
		"Subject":               quoteJSON(m.Subject),
		"ApplicationProperties": map[string]any{},
		"sys":                   sysMetadata(f.Name, now),
	}
	if m.SessionID != "" {
		meta["SessionId"] = quoteJSON(m.SessionID)
	}
	// The extension hands a string body to custom handlers as a JSON string.
	inv, err := h.invoke(ctx, f.Name, map[string]any{trig.Name: string(m.Body)}, meta)
	if err == nil && inv.Succeeded() {
		if err := h.opts.Broker.Complete(ctx, m); err != nil {
			h.log.WarnContext(ctx, "complete failed", "function", f.Name, "message", m.MessageID, "error", err)
		}
		return
	}
	if ctx.Err() != nil {
		// Shutting down: leave the message locked; it comes back.
		return
	}
	h.log.WarnContext(ctx, "invocation failed, abandoning message", "function", f.Name, "queue", queueName,
		"message", m.MessageID, "delivery", m.DeliveryCount, "status", inv.Status, "error", err)
	if err := h.opts.Broker.Abandon(ctx, m); err != nil {
		h.log.WarnContext(ctx, "abandon failed", "function", f.Name, "message", m.MessageID, "error", err)
	}
}

// quoteJSON reproduces the host's extra quoting of string metadata.
func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Drain waits until every trigger queue has no active, scheduled or locked
// message; dead-lettered ones do not count.
func (h *Host) Drain(ctx context.Context) error {
	for _, q := range h.queues {
		if err := h.opts.Broker.WaitIdle(ctx, q); err != nil {
			return fmt.Errorf("drain queue %s: %w", q, err)
		}
	}
	return nil
}

// httpHandler forwards /<routePrefix>/... to the handler, unchanged, after
// the function-key check, like enableForwardingHttpRequest.
func (h *Host) httpHandler() http.Handler {
	target, _ := url.Parse(h.opts.HandlerURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	prefix := "/" + strings.Trim(h.cfg.RoutePrefix(), "/") + "/"
	needsKey := false
	for _, f := range h.functions {
		if trig, _ := f.Trigger(); trig.Type == "httpTrigger" && trig.AuthLevel != "anonymous" {
			needsKey = true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			http.Error(w, "not found: HTTP functions are under "+prefix, http.StatusNotFound)
			return
		}
		if needsKey && h.opts.FunctionKey != "" {
			got := r.Header.Get("x-functions-key")
			if got == "" {
				got = r.URL.Query().Get("code")
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.FunctionKey)) != 1 {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})
}
