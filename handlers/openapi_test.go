package handlers

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The API's contract is docs/openapi.yaml: it must load and validate as
// OpenAPI 3.0, and every request and answer the API tests make passes
// through contractChecker, so the document cannot drift from the code.

var (
	contractOnce   sync.Once
	contractRouter routers.Router
	contractErr    error
)

func loadContract(t testing.TB) routers.Router {
	t.Helper()
	contractOnce.Do(func() {
		// The run report is an HTML page; its body is checked as the
		// string the document says it is.
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = false // no network, no other files
		doc, err := loader.LoadFromFile(filepath.Join("..", "docs", "openapi.yaml"))
		if err != nil {
			contractErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contractErr = err
			return
		}
		// The tests' requests go to httptest's host; match on paths only.
		doc.Servers = nil
		contractRouter, contractErr = gorillamux.NewRouter(doc)
	})
	if contractErr != nil {
		t.Fatalf("docs/openapi.yaml: %v", contractErr)
	}
	return contractRouter
}

// contractChecker serves next and checks the exchange against the
// document: the answer must be one the document lists for the operation
// (status, media type, body schema), and a request the document calls
// invalid must be refused with a 4xx. Requests to paths the document does
// not have (unrouted tests) must be answered 404 or 405.
type contractChecker struct {
	next   http.Handler
	router routers.Router
	report func(format string, args ...any)
}

func checkContract(t testing.TB, next http.Handler) http.Handler {
	return contractChecker{next: next, router: loadContract(t), report: t.Errorf}
}

func (c contractChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	route, params, routeErr := c.router.FindRoute(r.Clone(r.Context()))
	c.next.ServeHTTP(rec, r)
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())

	what := r.Method + " " + r.URL.RequestURI()
	if routeErr != nil {
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed && rec.Code != http.StatusBadRequest {
			c.report("contract: %s is not in docs/openapi.yaml but was answered %d", what, rec.Code)
		}
		return
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: r.Clone(r.Context()), PathParams: params, Route: route, Options: opts}
	in.Request.Body = io.NopCloser(bytes.NewReader(body))
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil && (rec.Code < 400 || rec.Code >= 500) {
		c.report("contract: %s is invalid by docs/openapi.yaml (%v) but was answered %d", what, err, rec.Code)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(), Options: opts}
	out.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(r.Context(), out); err != nil {
		c.report("contract: answer %d to %s does not match docs/openapi.yaml: %v\n%s", rec.Code, what, err, rec.Body.String())
	}
}

// TestContractCatchesAWrongAnswer shows the checker is not a formality:
// an answer the document does not allow is reported.
func TestContractCatchesAWrongAnswer(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		status int
		ctype  string
		body   string
	}{
		{"value not a list", "GET", "/api/customers/oak/runs", 200, "application/json", `{"value":"oops"}`},
		{"run without an id", "GET", "/api/customers/oak/runs/r1", 200, "application/json", `{"customerId":"oak","status":"queued"}`},
		{"undocumented status", "GET", "/api/customers/oak", 418, "application/json", `{}`},
		{"error not a problem document", "GET", "/api/customers/oak/people/s1", 404, "text/plain", "not found"},
		{"report not a page", "GET", "/api/customers/oak/runs/r1/report", 200, "application/json", `{}`},
		{"unknown person state", "GET", "/api/customers/oak/people/s1", 200, "application/json", `{"sourcedId":"s1","state":"happy","groups":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrong := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			var reports []string
			c := contractChecker{next: wrong, router: loadContract(t), report: func(f string, a ...any) { reports = append(reports, f) }}
			serve(c, tt.method, tt.path, "", "")
			if len(reports) == 0 {
				t.Errorf("a wrong answer (%d %s) passed the contract check", tt.status, tt.body)
			}
		})
	}
	// And a right one passes, so the cases above fail for their fault.
	var reports []string
	right := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": []any{}})
	})
	serve(contractChecker{next: right, router: loadContract(t), report: func(f string, a ...any) { reports = append(reports, f) }}, "GET", "/api/customers/oak/runs", "", "")
	if len(reports) != 0 {
		t.Errorf("a right answer was reported: %q", reports)
	}
}
