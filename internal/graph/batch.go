package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
)

// MaxBatchSize is Graph's limit of requests in one JSON $batch.
const MaxBatchSize = 20

// batchItem is one request inside a $batch.
type batchItem struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body,omitempty"`
}

// batchReply is one response inside a $batch answer.
type batchReply struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// header reads a reply header; Graph spells some in lower case.
func (r *batchReply) header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// batchAnswer is what came back for one POST /$batch.
type batchAnswer struct {
	// Status and Header are the outer response's.
	Status int
	Header http.Header
	// Replies holds the items' responses by id when Status is 200.
	Replies map[string]*batchReply
	// Error is the outer Graph error when Status is not 2xx.
	Error graphError
}

// maxBatchResponse bounds what is read of one $batch answer: 20 users with
// default properties are a few kilobytes; 16 MiB leaves room for anything
// Graph could send back without letting a broken peer exhaust memory.
const maxBatchResponse = 16 << 20

// errBatchTooLarge is returned for an answer over maxBatchResponse.
var errBatchTooLarge = errors.New("batch response too large")

// noRetry turns off the SDK retry middleware for one request. The executor
// owns every retry of $batch traffic: the middleware sees only the outer
// status, and when it retried an outer 429 the executor would retry the
// same items again on top, stacking waits and requests. It would also
// truncate a fractional Retry-After ("0.5" becomes 0 s).
func noRetry() abs.RequestOption {
	return &khttp.RetryHandlerOptions{
		ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false },
	}
}

// postBatch sends items as one JSON $batch through the SDK's request
// adapter, so the request gets the same authentication, compression and
// telemetry as every other Graph call. A non-nil error means no usable
// answer arrived (transport failure, cancellation, unreadable body).
func (c *Client) postBatch(ctx context.Context, items []batchItem) (*batchAnswer, error) {
	body, err := json.Marshal(map[string]any{"requests": items})
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	ri := abs.NewRequestInformation()
	ri.Method = abs.POST
	ri.UrlTemplate = "{+baseurl}/$batch"
	ri.PathParameters["baseurl"] = c.adapter.GetBaseUrl()
	ri.Headers.TryAdd("Accept", "application/json")
	ri.SetStreamContentAndContentType(body, "application/json")

	var (
		ans     *batchAnswer
		readErr error
	)
	handler := abs.NewRequestHandlerOption()
	handler.SetResponseHandler(func(r any, _ abs.ErrorMappings) (any, error) {
		resp, ok := r.(*http.Response)
		if !ok || resp == nil {
			readErr = errors.New("no HTTP response")
			return nil, nil
		}
		ans, readErr = readBatchAnswer(resp)
		return nil, nil
	})
	ri.AddRequestOptions([]abs.RequestOption{handler, noRetry()})
	if err := c.adapter.SendNoContent(ctx, ri, nil); err != nil {
		return nil, fmt.Errorf("post batch: %w", err)
	}
	if readErr != nil {
		return nil, fmt.Errorf("read batch answer: %w", readErr)
	}
	return ans, nil
}

func readBatchAnswer(resp *http.Response) (*batchAnswer, error) {
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBatchResponse+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxBatchResponse {
		return nil, errBatchTooLarge
	}
	ans := &batchAnswer{Status: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ans.Error = parseGraphError(raw)
		return ans, nil
	}
	var out struct {
		Responses []*batchReply `json:"responses"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode batch answer (status %d): %w", resp.StatusCode, err)
	}
	ans.Replies = make(map[string]*batchReply, len(out.Responses))
	for _, r := range out.Responses {
		if r != nil {
			// Batch ids are case-insensitive to Graph.
			ans.Replies[strings.ToLower(r.ID)] = r
		}
	}
	return ans, nil
}

// graphError is Graph's error envelope, {"error": {...}}.
type graphError struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Details []errorDetail `json:"details"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Target  string `json:"target"`
	Message string `json:"message"`
}

// hasDetail reports whether any detail carries code.
func (e graphError) hasDetail(code string) (errorDetail, bool) {
	for _, d := range e.Details {
		if strings.EqualFold(d.Code, code) {
			return d, true
		}
	}
	return errorDetail{}, false
}

func parseGraphError(raw []byte) graphError {
	var env struct {
		Error graphError `json:"error"`
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		_ = json.Unmarshal(raw, &env) // a body that is not Graph's envelope leaves the code empty
	}
	return env.Error
}

// retryAfter parses a Retry-After value: seconds, possibly fractional
// (Graph has sent "2.128"), or an HTTP date. ok is false when absent or
// unreadable.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || secs > 24*3600 {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
