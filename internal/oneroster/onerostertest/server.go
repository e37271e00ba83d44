// Package onerostertest is a OneRoster 1.1 REST provider for tests and
// demos: an http.Handler that serves a roster.Roster under
// /ims/oneroster/v1p1/ the way an MIS vendor's API does.
//
// It checks credentials as a provider would (OAuth 2 client credentials
// with expiring tokens, or OAuth 1.0a HMAC-SHA256 signatures with
// timestamp and nonce checks), pages with limit/offset and Link and
// X-Total-Count headers, filters on status and dateLastModified, reports
// deletions as tobedeleted records to delta reads, and injects faults (429,
// 503 …) on demand. The signature check is written independently of the
// client's signer, so a test passing means both agree with RFC 5849, not
// merely with each other's bugs.
//
// Use it with httptest.NewServer.
package onerostertest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/roster"
)

const (
	// BasePath is where the collections live.
	BasePath = "/ims/oneroster/v1p1"
	// TokenPath is the OAuth 2 token endpoint.
	TokenPath = "/oauth/token"
)

// Credentials are a client id and secret (OAuth 2) or a consumer key and
// secret (OAuth 1).
type Credentials struct{ ID, Secret string }

// Options configure a Server. Exactly one of OAuth2 and OAuth1 should be
// set; with neither, requests need no credentials.
type Options struct {
	OAuth2 *Credentials
	OAuth1 *Credentials
	// TokenTTL is the life of an OAuth 2 token. Zero means an hour.
	TokenTTL time.Duration
	// MaxLimit caps the page size whatever the client asks, as providers
	// do. Zero means 100.
	MaxLimit int
	// NoLinks and NoTotalCount leave out the Link and X-Total-Count
	// headers, for clients that must page without them.
	NoLinks, NoTotalCount bool
	// NoDemographics makes /demographics a 404, as for providers without it.
	NoDemographics bool
	// Now is the server's clock, for token expiry and OAuth 1 timestamps.
	// Nil means time.Now.
	Now func() time.Time
}

// Fault is an error response the server gives instead of serving an API
// request.
type Fault struct {
	Status     int
	RetryAfter string // the Retry-After header, if any
}

type tomb struct {
	collection, id string
	at             time.Time
}

// Server is the provider. It is safe for concurrent use.
type Server struct {
	opts Options

	mu       sync.Mutex
	r        *roster.Roster
	tombs    []tomb
	faults   []Fault
	tokens   map[string]time.Time
	nonces   map[string]bool
	issued   int
	requests []string
}

// New returns a server for r. The server keeps r and reads it under its
// lock; change it only through Update and Delete.
func New(r *roster.Roster, opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.MaxLimit <= 0 {
		opts.MaxLimit = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r.Sort()
	return &Server{opts: opts, r: r, tokens: map[string]time.Time{}, nonces: map[string]bool{}}
}

// Update changes the served roster under the server's lock.
func (s *Server) Update(fn func(r *roster.Roster)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.r)
	s.r.Sort()
}

// Delete removes a record from a collection ("users", "enrollments" …) and
// remembers the deletion, so that delta reads after at see it as
// tobedeleted.
func (s *Server) Delete(collection, id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.r
	switch collection {
	case "orgs":
		r.Orgs = slices.DeleteFunc(r.Orgs, func(x roster.Org) bool { return x.SourcedID == id })
	case "academicSessions":
		r.Sessions = slices.DeleteFunc(r.Sessions, func(x roster.Session) bool { return x.SourcedID == id })
	case "courses":
		r.Courses = slices.DeleteFunc(r.Courses, func(x roster.Course) bool { return x.SourcedID == id })
	case "classes":
		r.Classes = slices.DeleteFunc(r.Classes, func(x roster.Class) bool { return x.SourcedID == id })
	case "users":
		r.People = slices.DeleteFunc(r.People, func(x roster.Person) bool { return x.SourcedID == id })
	case "enrollments":
		r.Enrollments = slices.DeleteFunc(r.Enrollments, func(x roster.Enrollment) bool { return x.SourcedID == id })
	case "demographics":
		r.Demographics = slices.DeleteFunc(r.Demographics, func(x roster.Demographics) bool { return x.SourcedID == id })
	default:
		panic("onerostertest: unknown collection " + collection)
	}
	s.tombs = append(s.tombs, tomb{collection: collection, id: id, at: at})
}

// Fail queues faults: each of the next API requests gets one instead of
// data, in order. Token requests are not affected.
func (s *Server) Fail(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// RevokeTokens invalidates every OAuth 2 token issued so far, as a provider
// does when a secret is rotated.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// TokensIssued counts OAuth 2 tokens handed out.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// Requests returns "METHOD path?query status" for every request served.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.serve(rec, req)
	s.mu.Lock()
	s.requests = append(s.requests, fmt.Sprintf("%s %s %d", req.Method, req.URL.RequestURI(), rec.status))
	s.mu.Unlock()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == TokenPath {
		s.token(w, req)
		return
	}
	name, ok := strings.CutPrefix(req.URL.Path, BasePath+"/")
	if !ok || req.Method != http.MethodGet {
		http.NotFound(w, req)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		http.Error(w, http.StatusText(f.Status), f.Status)
		return
	}
	if msg := s.authorized(req); msg != "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"imsx_codeMajor": "failure", "imsx_description": msg})
		return
	}
	if name == "demographics" && s.opts.NoDemographics {
		http.NotFound(w, req)
		return
	}
	all, ok := s.records(name)
	if !ok {
		http.NotFound(w, req)
		return
	}
	q := req.URL.Query()
	match, err := parseFilter(q.Get("filter"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"imsx_codeMajor": "failure", "imsx_description": err.Error()})
		return
	}
	var selected []map[string]any
	for _, r := range all {
		if match(r) {
			selected = append(selected, r)
		}
	}
	limit, offset := 100, 0
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 {
		limit = v
	}
	limit = min(limit, s.opts.MaxLimit)
	if v, err := strconv.Atoi(q.Get("offset")); err == nil && v > 0 {
		offset = v
	}
	total := len(selected)
	page := selected[min(offset, total):min(offset+limit, total)]
	if !s.opts.NoTotalCount {
		w.Header().Set("X-Total-Count", strconv.Itoa(total))
	}
	if !s.opts.NoLinks {
		link := func(off int, rel string) string {
			q.Set("offset", strconv.Itoa(off))
			q.Set("limit", strconv.Itoa(limit))
			return fmt.Sprintf(`<http://%s%s?%s>; rel="%s"`, req.Host, req.URL.Path, q.Encode(), rel)
		}
		links := []string{link(0, "first")}
		if offset+limit < total {
			links = append(links, link(offset+limit, "next"))
		}
		last := 0
		if total > 0 {
			last = (total - 1) / limit * limit
		}
		links = append(links, link(last, "last"))
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	if page == nil {
		page = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{name: page})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// token is the OAuth 2 token endpoint (client credentials grant).
func (s *Server) token(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || s.opts.OAuth2 == nil {
		http.NotFound(w, req)
		return
	}
	if err := req.ParseForm(); err != nil || req.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	id, secret, ok := req.BasicAuth()
	if ok {
		// RFC 6749 §2.3.1 form-encodes both before Basic.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = req.PostForm.Get("client_id"), req.PostForm.Get("client_secret")
	}
	want := s.opts.OAuth2
	if !hmac.Equal([]byte(id), []byte(want.ID)) || !hmac.Equal([]byte(secret), []byte(want.Secret)) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	s.mu.Lock()
	s.issued++
	tok := fmt.Sprintf("token-%d", s.issued)
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(s.opts.TokenTTL.Seconds())})
}

// authorized checks the request's credentials; it returns why not, or "".
// The caller holds s.mu.
func (s *Server) authorized(req *http.Request) string {
	h := req.Header.Get("Authorization")
	switch {
	case s.opts.OAuth2 != nil:
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return "bearer token required"
		}
		exp, ok := s.tokens[tok]
		if !ok {
			return "unknown or revoked token"
		}
		if !s.opts.Now().Before(exp) {
			return "token expired"
		}
	case s.opts.OAuth1 != nil:
		return s.checkOAuth1(req, h)
	}
	return ""
}

// checkOAuth1 verifies an RFC 5849 signature made with HMAC-SHA256.
func (s *Server) checkOAuth1(req *http.Request, h string) string {
	rest, ok := strings.CutPrefix(h, "OAuth ")
	if !ok {
		return "OAuth authorization required"
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return "malformed OAuth header"
		}
		dv, err := url.PathUnescape(v[1 : len(v)-1])
		if err != nil {
			return "malformed OAuth header"
		}
		params[k] = dv
	}
	want := s.opts.OAuth1
	switch {
	case params["oauth_consumer_key"] != want.ID:
		return "unknown consumer key"
	case params["oauth_signature_method"] != "HMAC-SHA256":
		return "signature method must be HMAC-SHA256"
	case params["oauth_version"] != "" && params["oauth_version"] != "1.0":
		return "oauth_version must be 1.0"
	}
	ts, err := strconv.ParseInt(params["oauth_timestamp"], 10, 64)
	if err != nil {
		return "bad timestamp"
	}
	if d := s.opts.Now().Sub(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return "timestamp outside the 5-minute window"
	}
	nonceKey := params["oauth_nonce"] + "/" + params["oauth_timestamp"]
	if params["oauth_nonce"] == "" || s.nonces[nonceKey] {
		return "nonce missing or reused"
	}

	// Signature base string, RFC 5849 §3.4.1.
	var pairs []string
	enc := func(x string) string { return strings.ReplaceAll(url.QueryEscape(x), "+", "%20") }
	for k, vs := range req.URL.Query() {
		for _, v := range vs {
			pairs = append(pairs, enc(k)+"="+enc(v))
		}
	}
	for k, v := range params {
		if k != "oauth_signature" && k != "realm" {
			pairs = append(pairs, enc(k)+"="+enc(v))
		}
	}
	sort.Strings(pairs)
	uri := "http://" + strings.ToLower(req.Host) + req.URL.EscapedPath()
	base := "GET&" + enc(uri) + "&" + enc(strings.Join(pairs, "&"))
	mac := hmac.New(sha256.New, []byte(enc(want.Secret)+"&"))
	mac.Write([]byte(base))
	got, err := base64.StdEncoding.DecodeString(params["oauth_signature"])
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return "signature does not match"
	}
	s.nonces[nonceKey] = true
	return ""
}

var predicate = regexp.MustCompile(`^\s*(\w+)\s*(!=|>=|<=|=|>|<|~)\s*'([^']*)'\s*$`)

// parseFilter understands the OneRoster 1.1 filter grammar: up to two
// predicates field<op>'value' joined by AND or OR.
func parseFilter(f string) (func(map[string]any) bool, error) {
	if strings.TrimSpace(f) == "" {
		return func(map[string]any) bool { return true }, nil
	}
	join, parts := "", []string{f}
	for _, j := range []string{" AND ", " OR "} {
		if strings.Contains(f, j) {
			join, parts = j, strings.Split(f, j)
		}
	}
	if len(parts) > 2 {
		return nil, fmt.Errorf("filter %q has more than two predicates", f)
	}
	var preds []func(map[string]any) bool
	for _, p := range parts {
		m := predicate.FindStringSubmatch(p)
		if m == nil {
			return nil, fmt.Errorf("filter predicate %q is not field<op>'value'", p)
		}
		field, op, want := m[1], m[2], m[3]
		if field != "status" && field != "dateLastModified" && field != "sourcedId" {
			return nil, fmt.Errorf("filter field %q is not supported", field)
		}
		preds = append(preds, func(r map[string]any) bool {
			got, _ := r[field].(string)
			c := strings.Compare(got, want)
			if field == "dateLastModified" {
				gt, err1 := time.Parse(time.RFC3339Nano, got)
				wt, err2 := time.Parse(time.RFC3339Nano, want)
				if err1 != nil || err2 != nil {
					return false
				}
				c = gt.Compare(wt)
			}
			switch op {
			case "=":
				return c == 0
			case "!=":
				return c != 0
			case ">":
				return c > 0
			case ">=":
				return c >= 0
			case "<":
				return c < 0
			case "<=":
				return c <= 0
			}
			return strings.Contains(got, want) // "~"
		})
	}
	return func(r map[string]any) bool {
		for _, p := range preds {
			ok := p(r)
			if join == " OR " && ok {
				return true
			}
			if join != " OR " && !ok {
				return false
			}
		}
		return join != " OR "
	}, nil
}
