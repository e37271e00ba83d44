package graphsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// maxBatch is Graph's JSON batching limit (graph.md §2).
const maxBatch = 20

type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// serveBatch is POST /$batch. The batch as a whole answers 200 once it
// parses (400 when malformed); each item is routed, throttled and answered
// on its own, as Graph does (graph.md §2, §1.4). Items run in array order;
// an item whose dependency failed gets 424 without running. Responses come
// back in reverse order so clients that match by position, not id, fail
// here rather than in production.
func (s *Server) serveBatch(r *request) *response {
	fail := func(e *apiError) *response { return s.errorResponse(e, r.reqID, r.cliID) }
	if r.method != http.MethodPost {
		return fail(methodNotAllowed())
	}
	r.tenant.stats.batch()
	var in struct {
		Requests []batchItem `json:"requests"`
	}
	if len(bytes.TrimSpace(r.body)) == 0 {
		return fail(errf(http.StatusBadRequest, CodeBadRequest, "Empty Payload. JSON content expected."))
	}
	if err := json.Unmarshal(r.body, &in); err != nil {
		return fail(errf(http.StatusBadRequest, CodeBadRequest, "Invalid batch payload format."))
	}
	if len(in.Requests) == 0 {
		return fail(errf(http.StatusBadRequest, CodeBadRequest, "Invalid batch payload format."))
	}
	if len(in.Requests) > maxBatch {
		return fail(errf(http.StatusBadRequest, CodeBadRequest, "Number of batch requests exceeds the maximum of %d.", maxBatch))
	}
	seen := map[string]bool{}
	for _, it := range in.Requests {
		key := strings.ToLower(it.ID)
		switch {
		case it.ID == "":
			return fail(errf(http.StatusBadRequest, CodeBadRequest, "Batch request id is required."))
		case seen[key]:
			return fail(errf(http.StatusBadRequest, CodeBadRequest, "Batch request contains duplicate request Id: %s.", it.ID))
		case it.Method == "" || it.URL == "":
			return fail(errf(http.StatusBadRequest, CodeBadRequest, "Batch request %s must have a method and a url.", it.ID))
		}
		if len(bytes.TrimSpace(it.Body)) > 0 && string(bytes.TrimSpace(it.Body)) != "null" && headerValue(it.Headers, "Content-Type") == "" {
			return fail(errf(http.StatusBadRequest, CodeBadRequest, "Write request id : %s does not contain Content-Type header or body.", it.ID))
		}
		for _, d := range it.DependsOn {
			if !seen[strings.ToLower(d)] {
				return fail(errf(http.StatusBadRequest, CodeBadRequest, "Invalid dependency for request Id %s.", it.ID))
			}
		}
		seen[key] = true
	}

	status := map[string]int{}
	out := make([]map[string]any, 0, len(in.Requests))
	class := "read"
	for _, it := range in.Requests {
		var resp *response
		failedDep := ""
		for _, d := range it.DependsOn {
			if status[strings.ToLower(d)] >= 400 {
				failedDep = d
			}
		}
		if failedDep != "" {
			resp = s.errorResponse(errf(http.StatusFailedDependency, CodeFailedDependency, "Dependent request %s failed.", failedDep), r.reqID, r.cliID)
		} else {
			resp = s.runBatchItem(r, it)
		}
		if resp.header.Get("x-graphsim-latency-class") == "write" {
			class = "write"
		}
		resp.header.Del("x-graphsim-latency-class")
		status[strings.ToLower(it.ID)] = resp.status
		out = append(out, batchItemResponse(it.ID, resp))
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	s.sleepLatency(r.ctx, class)
	return jsonResponse(http.StatusOK, map[string]any{"responses": out})
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func (s *Server) runBatchItem(outer *request, it batchItem) *response {
	u, err := url.Parse(it.URL)
	if err != nil || u.IsAbs() {
		return s.errorResponse(errf(http.StatusBadRequest, CodeBadRequest, "Invalid request URL '%s': batch URLs are relative to the version, e.g. /users.", it.URL), outer.reqID, outer.cliID)
	}
	path := u.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	path = strings.TrimPrefix(path, "/v1.0")
	if strings.EqualFold(path, "/$batch") {
		return s.errorResponse(errf(http.StatusBadRequest, CodeBadRequest, "Nested batch requests are not supported."), outer.reqID, outer.cliID)
	}
	h := http.Header{}
	for k, v := range it.Headers {
		h.Set(k, v)
	}
	var body []byte
	if b := bytes.TrimSpace(it.Body); len(b) > 0 && string(b) != "null" {
		body = b
	}
	sub := &request{
		ctx:     outer.ctx,
		method:  strings.ToUpper(it.Method),
		path:    path,
		query:   u.Query(),
		header:  h,
		body:    body,
		tenant:  outer.tenant,
		appID:   outer.appID,
		baseURL: outer.baseURL,
		inBatch: true,
		reqID:   outer.reqID,
		cliID:   outer.cliID,
	}
	return s.dispatch(sub)
}

func batchItemResponse(id string, resp *response) map[string]any {
	headers := map[string]string{}
	for k, vs := range resp.header {
		if len(vs) == 0 {
			continue
		}
		// Graph spells its own headers in lower case.
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-ms-") {
			k = lk
		}
		headers[k] = vs[0]
	}
	item := map[string]any{"id": id, "status": resp.status}
	switch {
	case resp.raw != nil:
		headers["Content-Type"] = resp.contentType
		item["body"] = string(resp.raw)
	case resp.body != nil:
		headers["Content-Type"] = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
		item["body"] = resp.body
	}
	item["headers"] = headers
	return item
}
