package devhost

import (
	"bytes"
	"cmp"
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
	"path/filepath"
	"slices"
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
	// LastFired is each timer's last occurrence from an earlier run (the
	// schedule monitor's record); a timer whose next occurrence after it
	// has passed fires at Run's start with IsPastDue, as the host catches
	// up a missed schedule.
	LastFired map[string]time.Time
	// ReadinessTimeout bounds how long Run waits for the handler to answer
	// GET /; 0 means the host's 30 seconds.
	ReadinessTimeout time.Duration
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

	// timeout is functionTimeout (0: none); idle the session idle timeout.
	timeout, idle  time.Duration
	stdout, stderr *consoleWriter
}

// Stdout and Stderr are where the handler's output goes when the host
// starts it: each line becomes a host log record at the level the host
// gives it (stdout Information, stderr Error or, with "warn", Warning).
func (h *Host) Stdout() io.Writer { return h.stdout }

// Stderr: see Stdout.
func (h *Host) Stderr() io.Writer { return h.stderr }

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
	h := &Host{opts: opts, cfg: cfg, functions: fns, queues: map[string]string{}, log: opts.Log, lastFire: map[string]time.Time{},
		stdout: &consoleWriter{log: opts.Log}, stderr: &consoleWriter{log: opts.Log, stderr: true}}
	for name, t := range opts.LastFired {
		h.lastFire[name] = t
	}
	if d, err := parseTimeSpan(cfg.FunctionTimeout); err == nil && d > 0 {
		h.timeout = d
	}
	if d, err := parseTimeSpan(cfg.Extensions.ServiceBus.SessionIdleTimeout); err == nil {
		h.idle = d
	}
	h.client = opts.Client
	if h.client == nil {
		// The host's client waits functionTimeout + 1 minute, or without
		// limit when functionTimeout is unset (DefaultHttpWorkerService).
		var timeout time.Duration
		if h.timeout > 0 {
			timeout = h.timeout + time.Minute
		}
		// A handler's redirect (the consent callback's 302) is the
		// caller's to follow, as the host passes it through.
		h.client = &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
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
			if len(f.Bindings) != 2 || f.Bindings[1].Type != "http" && f.Bindings[0].Type != "http" {
				return nil, fmt.Errorf("function %s: the local host serves HTTP-only functions (an httpTrigger and an http output)", f.Name)
			}
			if !cfg.Proxying() && !cfg.CustomHandler.EnableForwardingHTTPRequest {
				return nil, fmt.Errorf("function %s: set customHandler.enableProxyingHttpRequest (or the legacy enableForwardingHttpRequest): the local host does not wrap HTTP requests in envelopes", f.Name)
			}
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
	if err := h.waitReady(ctx); err != nil {
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
			// Defaults of the extension's ServiceBusOptions: 8 sessions,
			// 16 calls.
			workers := h.cfg.Extensions.ServiceBus.MaxConcurrentSessions
			if workers == 0 {
				workers = 8
			}
			if !trig.IsSessionsEnabled {
				if workers = h.cfg.Extensions.ServiceBus.MaxConcurrentCalls; workers == 0 {
					workers = 16
				}
			}
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
	if h.timeout > 0 {
		// The host fails an invocation that outlives functionTimeout.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
	}
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
	req.Header.Set("X-Azure-Functions-HostVersion", hostVersion)
	req.Header.Set("User-Agent", "Azure-Functions-Host/4.1000.0 (rostersync dev)")
	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timeout value of %s was exceeded by function %s: %w", h.cfg.FunctionTimeout, function, err)
		}
		return inv, fmt.Errorf("invoke %s: %w", function, err)
	}
	defer resp.Body.Close()
	inv.Status = resp.StatusCode
	if !inv.Succeeded() {
		// The host calls EnsureSuccessStatusCode before it reads the
		// body: Logs, Outputs and ReturnValue of a failed invocation are
		// lost (DefaultHttpWorkerService.ProcessDefaultInvocationRequest).
		h.log.ErrorContext(ctx, fmt.Sprintf("Executed 'Functions.%s' (Failed): Response status code does not indicate success: %d", function, resp.StatusCode), "function", function)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<20))
		return inv, nil
	}
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
	h.mu.Lock()
	last := h.lastFire[f.Name]
	h.mu.Unlock()
	switch now := h.opts.Clock.Now(); {
	case !last.IsZero() && !sched.Next(last.UTC()).IsZero() && sched.Next(last.UTC()).Before(now):
		// The schedule monitor's last occurrence is older than the last
		// scheduled one: the host fires at once, past due.
		h.fireLogged(ctx, f, trig, now, true)
	case trig.RunOnStartup:
		h.fireLogged(ctx, f, trig, now, false)
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
		// The session is held until it has had no message for
		// sessionIdleTimeout (ServiceBusOptions.SessionIdleTimeout); its
		// lock is held meanwhile, as the host renews it.
		idleSince := h.opts.Clock.Now()
		for ctx.Err() == nil {
			msgs, err := sr.Receive(ctx, 1)
			if err != nil {
				break
			}
			if len(msgs) == 0 {
				waited := h.opts.Clock.Now().Sub(idleSince)
				if waited >= h.idle || !clock.Sleep(ctx, h.opts.Clock, min(h.idle-waited, 20*time.Millisecond)) {
					break
				}
				continue
			}
			for _, m := range msgs {
				h.deliver(ctx, f, trig, queueName, m)
			}
			idleSince = h.opts.Clock.Now()
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
	meta := serviceBusMetadata(m, newGUID(), sysMetadata(f.Name, now))
	// The host serializes the body string once more before it builds the
	// envelope (GetHttpScriptInvocationContextValue falls back to
	// JsonConvert.SerializeObject for a string): it arrives double-encoded.
	inv, err := h.invoke(ctx, f.Name, map[string]any{trig.Name: quoteJSON(string(m.Body))}, meta)
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

// DrainUntil is Drain that also returns once ended reports true and no
// message is being handled or due: what is left is scheduled for later
// (an entity's look for its turn that waking it made moot), and a one-shot
// command need not sit out those delays.
func (h *Host) DrainUntil(ctx context.Context, every time.Duration, ended func(context.Context) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := make(chan error, 1)
	go func() { idle <- h.Drain(ctx) }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-idle:
			return err
		case <-tick.C:
			// ended first: a run that ends has its last message still
			// locked until the handler has written its last-sync state.
			if ended(ctx) && h.settled() {
				return nil
			}
		}
	}
}

// settled: no queue holds a message being handled or due now.
func (h *Host) settled() bool {
	for _, q := range h.queues {
		st, err := h.opts.Broker.Stats(q)
		if err != nil || st.Active > 0 || st.Locked > 0 {
			return false
		}
	}
	return true
}

// httpRoute is an HTTP-only function's route under the route prefix.
type httpRoute struct {
	fn       string
	methods  []string // upper case; empty: any
	anon     bool
	segments []string // "{name}" a parameter, "{*name}" the rest
}

func (h *Host) httpRoutes() []httpRoute {
	prefix := strings.Trim(h.cfg.RoutePrefix(), "/")
	var out []httpRoute
	for _, f := range h.functions {
		trig, _ := f.Trigger()
		if trig.Type != "httpTrigger" {
			continue
		}
		route := trig.Route
		if route == "" {
			route = f.Name // the host's default route is the function name
		}
		full := strings.Trim(prefix+"/"+strings.Trim(route, "/"), "/")
		r := httpRoute{fn: f.Name, anon: strings.EqualFold(trig.AuthLevel, "anonymous"), segments: strings.Split(full, "/")}
		for _, m := range trig.Methods {
			r.methods = append(r.methods, strings.ToUpper(m))
		}
		out = append(out, r)
	}
	// ASP.NET Core routing tries literal segments before parameters and a
	// catch-all last, whatever the order of the functions: Consent's
	// consent/callback wins over Api's {*path}.
	slices.SortStableFunc(out, func(a, b httpRoute) int { return cmp.Compare(a.rank(), b.rank()) })
	return out
}

// rank orders routes as the host matches them: fewer catch-alls first,
// then more literal segments.
func (r httpRoute) rank() int {
	rank := 0
	for _, seg := range r.segments {
		switch {
		case strings.HasPrefix(seg, "{*"):
			rank += 1000
		case strings.HasPrefix(seg, "{"):
		default:
			rank--
		}
	}
	return rank
}

// match reports whether the decoded path matches the route; literal
// segments compare case-insensitively, as ASP.NET Core routing does.
func (r httpRoute) match(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range r.segments {
		if strings.HasPrefix(seg, "{*") {
			return true
		}
		if i >= len(parts) {
			return false
		}
		if strings.HasPrefix(seg, "{") {
			if parts[i] == "" {
				return false
			}
			continue
		}
		if !strings.EqualFold(seg, parts[i]) {
			return false
		}
	}
	return len(parts) == len(r.segments)
}

// httpHandler serves the HTTP-only functions the way the host does: the
// route (case-insensitive) and the function's methods pick the function,
// its authLevel decides whether a function key is needed, and the request
// is forwarded or proxied by the host's rules (forwardRequest).
func (h *Host) httpHandler() http.Handler {
	routes := h.httpRoutes()
	proxying := h.cfg.Proxying()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var route *httpRoute
		for i := range routes {
			if routes[i].match(r.URL.Path) && (len(routes[i].methods) == 0 || slices.Contains(routes[i].methods, r.Method)) {
				route = &routes[i]
				break
			}
		}
		if route == nil {
			http.Error(w, "no HTTP function matches "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		if !route.anon && h.opts.FunctionKey != "" {
			got := r.Header.Get("x-functions-key")
			if got == "" {
				got = r.URL.Query().Get("code")
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.FunctionKey)) != 1 {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		out, err := forwardRequest(r, h.opts.HandlerURL, proxying, newGUID())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := h.client.Do(out)
		if err != nil {
			h.log.ErrorContext(r.Context(), "forwarding to the handler failed", "function", route.fn, "error", err)
			http.Error(w, "the function failed", http.StatusInternalServerError)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}

// waitReady polls GET / on the handler until anything answers, as the host
// does before it sends invocations (DefaultHttpWorkerService.IsWorkerReady:
// any HTTP response means ready), and gives up after the host's
// InitializationTimeout.
func (h *Host) waitReady(ctx context.Context) error {
	limit := h.opts.ReadinessTimeout
	if limit == 0 {
		limit = readinessTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(h.opts.HandlerURL, "/")+"/", nil)
		if err != nil {
			return fmt.Errorf("devhost: readiness probe: %w", err)
		}
		if resp, err := h.client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devhost: the handler at %s did not answer GET / within %s, the host's initialization timeout", h.opts.HandlerURL, limit)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
