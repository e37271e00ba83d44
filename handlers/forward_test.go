package handlers

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// chunked hides a body's length, as a chunked request does.
type chunked struct{ io.Reader }

func TestForwardingGuards(t *testing.T) {
	s := newTestServerLog(&fakePipeline{}, nil)
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		body   string
	}{
		{"plain id", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/customers/oak-field_1.x", nil) }, 200, "oak-field_1.x"},
		{"escaped ? in an id", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/customers/a%3Fb", nil) }, 400, ""},
		{"escaped # in an id", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/customers/a%23b", nil) }, 400, ""},
		{"escaped % in an id", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/customers/a%25b", nil) }, 400, ""},
		{"space in an id", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/customers/a%20b", nil) }, 400, ""},
		{"repeated query parameter", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/health?x=1&x=2", nil) }, 400, ""},
		{"single query parameters", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/health?x=1&y=2", nil) }, 200, "forwarded ok"},
		{"body with a length", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/api/echo", strings.NewReader("{}"))
		}, 200, "{}"},
		{"body without a length", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/api/echo", chunked{strings.NewReader("{}")})
			r.ContentLength = -1
			return r
		}, 411, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, tt.req())
			if rec.Code != tt.status || (tt.body != "" && rec.Body.String() != tt.body) {
				t.Errorf("= %d %q, want %d %q", rec.Code, rec.Body, tt.status, tt.body)
			}
		})
	}
}
