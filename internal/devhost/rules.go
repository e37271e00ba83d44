package devhost

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/queue/membroker"
)

// This file holds the rules by which the Azure Functions host talks to a
// custom handler, each following the host source it names, so that the
// local host fails where Azure would.

// serviceBusMetadata is the trigger metadata the Service Bus extension 5.x
// puts in the binding data (azure-sdk-for-net
// Microsoft.Azure.WebJobs.Extensions.ServiceBus ServiceBusTriggerBindingStrategy
// .GetBindingData), serialized as the host serializes metadata for a custom
// handler (azure-functions-host ScriptInvocationContextExtensions
// .ToHttpScriptInvocationContext: JObject.FromObject for objects, else
// JsonConvert.SerializeObject, so strings keep their quotes and numbers
// become strings; null values are skipped). A JSON body's top-level
// properties join the binding data too, case-insensitively and ahead of the
// extension's own (azure-webjobs-sdk: "Binding data from Poco properties
// takes precedence over builtins").
func serviceBusMetadata(m *membroker.Locked, lockToken string, sys map[string]any) map[string]any {
	meta := map[string]any{
		"MessageReceiver": map[string]any{}, "MessageSession": map[string]any{}, "MessageActions": map[string]any{},
		"SessionActions": map[string]any{}, "ReceiveActions": map[string]any{},
		"Client":          map[string]any{"FullyQualifiedNamespace": "devhost.servicebus.local", "IsClosed": false, "TransportType": 0, "Identifier": "devhost"},
		"DeliveryCount":   strconv.Itoa(m.DeliveryCount),
		"LockToken":       quoteJSON(lockToken),
		"ExpiresAtUtc":    m.LockedUntil.UTC().Format("2006-01-02T15:04:05"),
		"ExpiresAt":       m.LockedUntil.UTC().Format("2006-01-02T15:04:05+00:00"),
		"EnqueuedTimeUtc": m.EnqueuedTime.UTC().Format("2006-01-02T15:04:05"),
		"EnqueuedTime":    m.EnqueuedTime.UTC().Format("2006-01-02T15:04:05+00:00"),
		"SequenceNumber":  strconv.FormatInt(m.SequenceNumber, 10),
		"sys":             sys,
	}
	props := map[string]any{}
	for k, v := range m.ApplicationProperties {
		props[k] = v
	}
	meta["ApplicationProperties"], meta["UserProperties"] = props, props
	for k, v := range map[string]string{"MessageId": m.MessageID, "ContentType": m.ContentType, "Subject": m.Subject, "Label": m.Subject, "SessionId": m.SessionID} {
		if v != "" { // null: left out
			meta[k] = quoteJSON(v)
		}
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(m.Body, &body) == nil {
		for k, raw := range body {
			var v any
			_ = json.Unmarshal(raw, &v)
			if v == nil {
				continue
			}
			if s, ok := v.(string); ok {
				v = quoteJSON(s)
			}
			key := k
			for existing := range meta {
				if strings.EqualFold(existing, k) {
					key = existing // the dictionary keeps the first spelling, takes the new value
				}
			}
			meta[key] = v
		}
	}
	return meta
}

// consoleWriter turns a handler's output stream into host log records,
// line by line, the way azure-functions-host WorkerProcess does for an
// HTTP worker (UseStdErrorStreamForErrorsOnly is true): a stdout line is
// Information; a stderr line is Warning when it contains "warn" (any case)
// and Error otherwise (ParseErrorMessageAndLog).
type consoleWriter struct {
	log    *slog.Logger
	stderr bool
	mu     sync.Mutex
	buf    bytes.Buffer
}

// ConsoleLevel is the level the host gives a line of the handler's output.
func ConsoleLevel(line string, stderr bool) slog.Level {
	switch {
	case !stderr:
		return slog.LevelInfo
	case strings.Contains(strings.ToLower(line), "warn"):
		return slog.LevelWarn
	}
	return slog.LevelError
}

func (c *consoleWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	for {
		i := bytes.IndexByte(c.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(c.buf.Next(i + 1))
		line = strings.TrimRight(line, "\r\n")
		stream := "stdout"
		if c.stderr {
			stream = "stderr"
		}
		c.log.Log(context.Background(), ConsoleLevel(line, c.stderr), line, "source", "handler", "stream", stream)
	}
}

// forwardRequest builds the request the host sends the handler for an
// HTTP-only function (an httpTrigger with an http output).
//
// With enableForwardingHttpRequest (azure-functions-host
// DefaultHttpWorkerService.ProcessHttpInAndOutInvocationRequest): the path
// is HttpRequest.GetRequestUri().AbsolutePath, built from GetDisplayUrl,
// the un-escaped form, so an escaped '?', '#' or '%' is taken literally;
// the query is rebuilt from GetQueryCollectionAsDictionary, which joins a
// repeated parameter's values with commas; the body is copied only when
// ContentLength > 0 (HttpRequestExtensions.ToHttpRequestMessage).
//
// With enableProxyingHttpRequest (ProxyInvocationRequest, YARP): the path,
// query and body go through unchanged.
//
// Both add X-Azure-Functions-InvocationId.
func forwardRequest(r *http.Request, handlerURL string, proxying bool, invocationID string) (*http.Request, error) {
	var target string
	var body io.Reader
	length := r.ContentLength
	if proxying {
		target = strings.TrimRight(handlerURL, "/") + r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		body = r.Body
	} else {
		// new Uri(displayUrl): what follows a literal '?' is the query,
		// what follows '#' is a fragment that is never sent.
		path, _, _ := strings.Cut(r.URL.Path, "#")
		path, _, _ = strings.Cut(path, "?")
		q := r.URL.Query()
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		joined := url.Values{}
		for _, k := range keys {
			joined.Set(k, strings.Join(q[k], ","))
		}
		target = strings.TrimRight(handlerURL, "/") + (&url.URL{Path: path}).EscapedPath()
		if len(joined) > 0 {
			target += "?" + joined.Encode()
		}
		if r.ContentLength > 0 {
			body = r.Body
		} else {
			length = 0
		}
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target, body)
	if err != nil {
		return nil, err
	}
	out.ContentLength = length
	for k, vs := range r.Header {
		if !proxying && (strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Transfer-Encoding")) {
			continue
		}
		out.Header[k] = append([]string(nil), vs...)
	}
	out.Header.Set("X-Azure-Functions-InvocationId", invocationID)
	out.Header.Set("X-Azure-Functions-HostVersion", hostVersion)
	return out, nil
}

// hostVersion is what the local host reports as its version.
const hostVersion = "4.1000.0-rostersync-dev"

// readinessTimeout is the host's HttpWorkerOptions.InitializationTimeout:
// the handler must answer GET / within it, or the host gives up.
const readinessTimeout = 30 * time.Second
