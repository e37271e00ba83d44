package handlers

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// The Api function reaches the handler as the host's copy of the caller's
// request, and the legacy forwarding mode (enableForwardingHttpRequest)
// changes it on the way (azure-functions-host DefaultHttpWorkerService
// .ProcessHttpInAndOutInvocationRequest and HttpRequestExtensions):
//
//   - the path is HttpRequest.GetRequestUri().AbsolutePath, built from
//     GetDisplayUrl, the un-escaped form, so a segment holding %3F, %23 or
//     %25 becomes '?', '#' or '%' and the request is misrouted;
//   - the query is rebuilt from GetQueryCollectionAsDictionary, whose
//     StringValues.ToString comma-joins a repeated parameter;
//   - the body is copied only when ContentLength > 0, so a chunked body
//     arrives empty.
//
// The proxying mode (enableProxyingHttpRequest, which host.json uses) keeps
// the request intact, but the handler must not depend on which one the
// host runs, so serveAPI refuses what either could change.

// pathChar reports whether c survives the host's un-escaping unchanged:
// RFC 3986 unreserved characters, the sub-delimiters, ':' and '@' (pchar
// without percent-encoding) and the segment separator.
func pathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0
}

// checkForwardable returns the problem kind and reason for a request the
// host could not have forwarded intact, or "".
func checkForwardable(r *http.Request) (ProblemType, string) {
	if strings.Contains(r.URL.EscapedPath(), "%") {
		return ProblemValidation, "the path holds percent-encoded characters, which the Functions host does not forward intact; ids are letters, digits and -._~!$&'()*+,;=:@"
	}
	for i := 0; i < len(r.URL.Path); i++ {
		if !pathChar(r.URL.Path[i]) {
			return ProblemValidation, fmt.Sprintf("the path holds %q, which the Functions host does not forward intact", r.URL.Path[i])
		}
	}
	for k, vs := range r.URL.Query() {
		if len(vs) > 1 {
			return ProblemValidation, fmt.Sprintf("query parameter %q is repeated; the Functions host joins repeated values with commas, so give it once", k)
		}
	}
	if r.ContentLength < 0 {
		// Go sets ContentLength -1 for a chunked body (or one of unknown
		// length); the host would forward it empty.
		return ProblemLengthRequired, "a request body needs a Content-Length: the Functions host drops bodies sent without one"
	}
	return "", ""
}

// serveAPI checks a forwarded request, serves it with the API, and logs
// every non-2xx answer with its reason before the answer leaves.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	if kind, reason := checkForwardable(r); kind != "" {
		writeProblem(sw, r, kind, reason)
	} else {
		s.api.ServeHTTP(sw, r)
	}
	if sw.status < 400 {
		return // success, or a redirect (the consent callback's)
	}
	level := slog.LevelError
	if sw.status < http.StatusInternalServerError {
		level = slog.LevelWarn
	}
	reason := sw.held.String()
	if len(reason) > maxLoggedBody {
		reason = reason[:maxLoggedBody]
	}
	s.log.Log(r.Context(), level, "api request failed", "method", r.Method, "path", r.URL.EscapedPath(), "status", sw.status,
		"invocation", r.Header.Get(invocationIDHeader), "reason", strings.TrimSpace(reason))
	w.WriteHeader(sw.status)
	_, _ = w.Write(sw.held.Bytes())
}

// statusWriter passes a successful response through and holds back a
// failed one (the API's problem document: a type and a detail naming ids,
// never personal data), so that it can be logged before it is sent.
type statusWriter struct {
	http.ResponseWriter
	status int
	held   bytes.Buffer
}

const maxLoggedBody = 300

func (w *statusWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if code < 400 {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status >= 400 {
		return w.held.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && w.status < 400 {
		f.Flush()
	}
}
