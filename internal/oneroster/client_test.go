package oneroster

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/oneroster/onerostertest"
	"github.com/rostersync/rostersync/internal/roster"
)

// stepClock is a clock on which waiting takes no time: After moves the
// clock forward by d at once and records d, so retry tests run instantly
// and can check every wait.
type stepClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newStepClock() *stepClock {
	return &stepClock{now: time.Date(2025, 10, 6, 7, 30, 0, 0, time.UTC)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *stepClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

type secretMap map[string]string

func (m secretMap) Secret(_ context.Context, name string) (string, error) {
	if v, ok := m[name]; ok {
		return v, nil
	}
	return "", errors.New("secret not found")
}

var testSecrets = secretMap{"mis-client-secret": "s3cr3t/+", "mis-consumer-secret": "c0nsumer&secret"}

// provider starts a test provider for a roster and returns it with a
// client configured for it.
type provider struct {
	srv    *onerostertest.Server
	http   *httptest.Server
	client *Client
	clock  *stepClock
}

func newProvider(t *testing.T, r *roster.Roster, sopts onerostertest.Options, copts ClientOptions) *provider {
	t.Helper()
	clk := newStepClock()
	sopts.Now = clk.Now
	if sopts.OAuth1 == nil && sopts.OAuth2 == nil {
		sopts.OAuth2 = &onerostertest.Credentials{ID: "rostersync", Secret: testSecrets["mis-client-secret"]}
	}
	srv := onerostertest.New(r, sopts)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	copts.BaseURL = hs.URL + onerostertest.BasePath
	copts.Secrets = testSecrets
	copts.Clock = clk
	copts.Egress = egress.Policy{Local: true} // httptest serves plain http on loopback
	if copts.OAuth1 == nil && copts.OAuth2 == nil {
		if sopts.OAuth1 != nil {
			copts.OAuth1 = &OAuth1{ConsumerKey: sopts.OAuth1.ID, SecretName: "mis-consumer-secret"}
		} else {
			copts.OAuth2 = &OAuth2{TokenURL: hs.URL + onerostertest.TokenPath, ClientID: sopts.OAuth2.ID, SecretName: "mis-client-secret"}
		}
	}
	if copts.Jitter == nil {
		copts.Jitter = func() float64 { return 0.5 } // no spread: exact waits
	}
	c, err := NewClient(copts)
	if err != nil {
		t.Fatal(err)
	}
	return &provider{srv: srv, http: hs, client: c, clock: clk}
}

func requestsTo(reqs []string, path string) (n int) {
	for _, r := range reqs {
		if strings.Contains(r, path) {
			n++
		}
	}
	return n
}

// TestClientPaging reads the sample through every paging style and
// expects exactly the roster the CSV reader gives.
func TestClientPaging(t *testing.T) {
	// The REST binding has no manifest, so no source system.
	csv := readSample(t)
	csv.Source = roster.Source{}
	want := marshal(t, csv)
	tests := []struct {
		name          string
		pageSize      int
		maxLimit      int
		noLinks       bool
		noTotal       bool
		wantUserPages int // requests to /users
	}{
		{name: "one page", pageSize: 1000, maxLimit: 1000, wantUserPages: 1},
		{name: "Link and X-Total-Count", pageSize: 5, maxLimit: 100, wantUserPages: 3},
		{name: "Link only", pageSize: 5, maxLimit: 100, noTotal: true, wantUserPages: 3},
		{name: "X-Total-Count only", pageSize: 5, maxLimit: 100, noLinks: true, wantUserPages: 3},
		// Without either header only an empty page ends a collection.
		{name: "neither header", pageSize: 5, maxLimit: 100, noLinks: true, noTotal: true, wantUserPages: 4},
		{name: "exact multiple, neither header", pageSize: 13, maxLimit: 100, noLinks: true, noTotal: true, wantUserPages: 2},
		// The provider caps pages below the asked limit: 4 < 5 must not
		// be read as the last page.
		{name: "provider caps the limit", pageSize: 5, maxLimit: 4, noLinks: true, noTotal: true, wantUserPages: 5},
		{name: "provider caps, with total", pageSize: 5, maxLimit: 4, noLinks: true, wantUserPages: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, readSample(t), onerostertest.Options{MaxLimit: tt.maxLimit, NoLinks: tt.noLinks, NoTotalCount: tt.noTotal},
				ClientOptions{PageSize: tt.pageSize})
			f, err := p.client.Read(context.Background(), nil)
			if err != nil {
				t.Fatalf("Read error: %v", err)
			}
			if got := marshal(t, f.Roster); !bytes.Equal(got, want) {
				t.Errorf("REST roster differs from the CSV one (-want +got):\n%s", lineDiff(string(want), string(got)))
			}
			reqs := p.srv.Requests()
			if got := requestsTo(reqs, "/v1p1/users?"); got != tt.wantUserPages {
				t.Errorf("%d requests to /users, want %d:\n%s", got, tt.wantUserPages, strings.Join(reqs, "\n"))
			}
			for _, r := range reqs {
				if strings.Contains(r, "/v1p1/") && !strings.Contains(r, "filter=status%3D%27active%27") {
					t.Errorf("request %q lacks filter=status='active'", r)
				}
			}
		})
	}
}

// TestClientDelta changes the provider's data after a full read and
// expects a delta read onto the first snapshot to equal a fresh full read.
func TestClientDelta(t *testing.T) {
	p := newProvider(t, readSample(t), onerostertest.Options{MaxLimit: 4}, ClientOptions{PageSize: 4})
	ctx := context.Background()
	first, err := p.client.Read(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
	at := since.Add(8 * time.Hour)
	p.srv.Update(func(r *roster.Roster) {
		r.People = append(r.People, roster.Person{SourcedID: "stu-0201", Role: roster.RoleStudent, Enabled: true, Username: "25dsouzac",
			GivenName: "Chloé", FamilyName: "D'Souza-Hughes", Orgs: []string{"sch-kb"}, Grades: []string{"07"}, Modified: at})
		r.Enrollments = append(r.Enrollments, roster.Enrollment{SourcedID: "enr-7kb-stu-0201", Class: "cls-7kb", School: "sch-kb",
			Person: "stu-0201", Role: roster.RoleStudent, Begin: roster.NewDate(2025, 10, 1), Modified: at})
		p := r.Person("stu-0004")
		p.FamilyName, p.Modified = "Ní Bhriain-Walsh", at
	})
	p.srv.Delete("users", "stu-0003", at)
	p.srv.Delete("enrollments", "enr-7kb-stu-0003", at)
	p.srv.Delete("enrollments", "enr-7ma1-stu-0003", at)
	// A deletion from before the last read: the snapshot already lacks it.
	p.srv.Delete("users", "stu-gone-long-ago", since.Add(-time.Hour))

	delta, err := p.client.Read(ctx, &FetchOptions{Since: since, ReadOptions: ReadOptions{ValidateOptions: ValidateOptions{Previous: first.Roster}}})
	if err != nil {
		t.Fatalf("delta Read error: %v", err)
	}
	full, err := p.client.Read(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := marshal(t, delta.Roster), marshal(t, full.Roster); !bytes.Equal(got, want) {
		t.Errorf("delta onto the snapshot differs from a full read (-full +delta):\n%s", lineDiff(string(want), string(got)))
	}
	if st := delta.Files[KindUsers]; st.Mode != ModeDelta || st.Added != 1 || st.Replaced != 1 || st.Deleted != 1 || st.Kept != 11 {
		t.Errorf("Files[users] = %+v", st)
	}
	if st := delta.Files[KindEnrollments]; st.Added != 1 || st.Deleted != 2 {
		t.Errorf("Files[enrollments] = %+v", st)
	}
	wantFilter := "filter=" + url.QueryEscape("dateLastModified>'2025-10-01T00:00:00Z'")
	if n := requestsTo(p.srv.Requests(), wantFilter); n < len(Kinds) {
		t.Errorf("%d requests carry %s, want one per collection at least", n, wantFilter)
	}

	if _, err := p.client.Read(ctx, &FetchOptions{Since: since}); !errors.Is(err, ErrNoSnapshot) {
		t.Errorf("delta Read without a snapshot error = %v, want ErrNoSnapshot", err)
	}
}

func TestClientOAuth1(t *testing.T) {
	creds := &onerostertest.Credentials{ID: "consumer-key", Secret: testSecrets["mis-consumer-secret"]}
	p := newProvider(t, readSample(t), onerostertest.Options{OAuth1: creds, MaxLimit: 5}, ClientOptions{PageSize: 5})
	if _, err := p.client.Read(context.Background(), nil); err != nil {
		t.Fatalf("Read with OAuth 1 error: %v", err)
	}

	t.Run("wrong secret", func(t *testing.T) {
		p := newProvider(t, readSample(t), onerostertest.Options{OAuth1: creds}, ClientOptions{
			OAuth1: &OAuth1{ConsumerKey: "consumer-key", SecretName: "mis-client-secret"}})
		_, err := p.client.Read(context.Background(), nil)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Read error = %v, want ErrUnauthorized", err)
		}
		if n := len(p.srv.Requests()); n != 1 {
			t.Errorf("%d requests after a refusal, want 1 (no retries)", n)
		}
	})
	t.Run("replayed nonce", func(t *testing.T) {
		p := newProvider(t, readSample(t), onerostertest.Options{OAuth1: creds}, ClientOptions{
			Nonce: func() string { return "always-the-same" }})
		if _, err := p.client.Read(context.Background(), nil); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Read with a repeated nonce error = %v, want ErrUnauthorized", err)
		}
	})
}

// TestSignOAuth1 checks one signature against a value computed outside Go
// (Python's hmac and urllib.parse.quote(safe="-._~")).
func TestSignOAuth1(t *testing.T) {
	u, _ := url.Parse("https://MIS.example.org:443/ims/oneroster/v1p1/users?limit=2&offset=0&filter=status%3D%27active%27")
	got := signOAuth1("GET", u, "key-1", "s3cr3t/+", "n0nce", 1760000000)
	const want = `oauth_signature="vfk9ntBiQZpjg2%2FvkZwakXEfpvMvAgJD6HkTl%2B7KIfQ%3D"`
	if !strings.Contains(got, want) || !strings.HasPrefix(got, "OAuth ") || !strings.Contains(got, `oauth_signature_method="HMAC-SHA256"`) {
		t.Errorf("signOAuth1 = %s, want it to contain %s", got, want)
	}
}

func TestClientTokens(t *testing.T) {
	p := newProvider(t, readSample(t), onerostertest.Options{TokenTTL: time.Hour}, ClientOptions{})
	ctx := context.Background()
	read := func() {
		t.Helper()
		if _, err := p.client.Read(ctx, nil); err != nil {
			t.Fatalf("Read error: %v", err)
		}
	}
	read()
	read()
	if n := p.srv.TokensIssued(); n != 1 {
		t.Fatalf("after two reads %d tokens issued, want 1 (cached)", n)
	}
	// Just inside the refresh margin: the client replaces the token before
	// it expires, so the provider never refuses it.
	p.clock.advance(59*time.Minute + 30*time.Second)
	read()
	if n := p.srv.TokensIssued(); n != 2 {
		t.Errorf("near expiry %d tokens issued, want 2", n)
	}
	if n := requestsTo(p.srv.Requests(), " 401"); n != 0 {
		t.Errorf("%d requests refused before the revocation, want 0", n)
	}
	// Revoked on the provider side: one 401, one new token, and the read
	// goes on.
	p.srv.RevokeTokens()
	read()
	if n := p.srv.TokensIssued(); n != 3 {
		t.Errorf("after revocation %d tokens issued, want 3", n)
	}
	if n := requestsTo(p.srv.Requests(), " 401"); n != 1 {
		t.Errorf("%d refused requests after revocation, want exactly 1", n)
	}

	t.Run("wrong client secret", func(t *testing.T) {
		p := newProvider(t, readSample(t), onerostertest.Options{}, ClientOptions{})
		p.client.o.OAuth2.SecretName = "mis-consumer-secret"
		if _, err := p.client.Read(ctx, nil); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Read error = %v, want ErrUnauthorized", err)
		}
	})
	t.Run("secret missing from the source", func(t *testing.T) {
		p := newProvider(t, readSample(t), onerostertest.Options{}, ClientOptions{})
		p.client.o.OAuth2.SecretName = "nope"
		if _, err := p.client.Read(ctx, nil); err == nil || !strings.Contains(err.Error(), "client secret") {
			t.Fatalf("Read error = %v, want a client secret error", err)
		}
	})
}

func TestClientRetries(t *testing.T) {
	start := newStepClock().now
	tests := []struct {
		name      string
		faults    []onerostertest.Fault
		wantWaits []time.Duration
		wantCode  int // 0: the read succeeds
	}{
		{name: "429 with Retry-After seconds", faults: []onerostertest.Fault{{Status: 429, RetryAfter: "7"}},
			wantWaits: []time.Duration{7 * time.Second}},
		{name: "429 with Retry-After date", faults: []onerostertest.Fault{{Status: 429, RetryAfter: start.Add(30 * time.Second).Format(http.TimeFormat)}},
			wantWaits: []time.Duration{30 * time.Second}},
		{name: "503 twice, exponential backoff", faults: []onerostertest.Fault{{Status: 503}, {Status: 503}},
			wantWaits: []time.Duration{time.Second, 2 * time.Second}},
		{name: "500, 502, 504", faults: []onerostertest.Fault{{Status: 500}, {Status: 502}, {Status: 504}},
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{name: "gives up after MaxRetries", faults: []onerostertest.Fault{{Status: 503}, {Status: 503}, {Status: 503}, {Status: 503}, {Status: 503}},
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}, wantCode: 503},
		{name: "Retry-After beyond MaxDelay", faults: []onerostertest.Fault{{Status: 429, RetryAfter: "3600"}}, wantCode: 429},
		{name: "400 is not retried", faults: []onerostertest.Fault{{Status: 400}}, wantCode: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, readSample(t), onerostertest.Options{}, ClientOptions{})
			p.srv.Fail(tt.faults...)
			_, err := p.client.Read(context.Background(), nil)
			if tt.wantCode == 0 && err != nil {
				t.Fatalf("Read error: %v", err)
			}
			if tt.wantCode != 0 {
				var he *HTTPError
				if !errors.As(err, &he) || he.StatusCode != tt.wantCode {
					t.Fatalf("Read error = %v, want an HTTPError %d", err, tt.wantCode)
				}
				if strings.Contains(he.URL, "?") {
					t.Errorf("HTTPError.URL %q keeps the query", he.URL)
				}
			}
			if got := p.clock.waits(); !reflect.DeepEqual(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
		})
	}
}

func TestClientCancelledWhileWaiting(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer hs.Close()
	c, err := NewClient(ClientOptions{BaseURL: hs.URL, OAuth1: &OAuth1{ConsumerKey: "k", SecretName: "mis-consumer-secret"},
		Secrets: testSecrets, BaseDelay: time.Hour, MaxDelay: 2 * time.Hour, Egress: egress.Policy{Local: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Read(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read error = %v, want context.DeadlineExceeded", err)
	}
}

// TestClientBadData checks that REST records get the same located checks
// as CSV rows, and that a bad feed yields no roster.
func TestClientBadData(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *roster.Roster)
		want   ParseError
	}{
		{name: "unknown role", change: func(r *roster.Roster) { r.Person("stu-0002").Role = "pupil" },
			want: ParseError{File: "users", Line: 5, Column: "role", Value: "pupil", Err: ErrBadEnum}},
		{name: "dangling enrolment", change: func(r *roster.Roster) { r.Enrollment("enr-7kb-stu-0001").Person = "stu-9999" },
			want: ParseError{File: "enrollments", Line: 6, Column: "userSourcedId", Value: "stu-9999", Err: ErrUnknownRef}},
		{name: "bad date", change: func(r *roster.Roster) { r.Session("ay-2025").End = roster.Date(20261399) },
			want: ParseError{File: "academicSessions", Line: 2, Column: "endDate", Value: "2026-13-99", Err: ErrBadDate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readSample(t)
			tt.change(r)
			p := newProvider(t, r, onerostertest.Options{}, ClientOptions{})
			f, err := p.client.Read(context.Background(), &FetchOptions{ReadOptions: ReadOptions{ValidateOptions: ValidateOptions{MaxQuarantine: -1}}})
			if f != nil {
				t.Error("Read returned a roster with an error")
			}
			var list *ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Read error = %v, want *ErrorList", err)
			}
			for _, got := range list.Errs {
				if got.File == tt.want.File && got.Line == tt.want.Line && got.Column == tt.want.Column && got.Value == tt.want.Value && errors.Is(got, tt.want.Err) {
					return
				}
			}
			t.Errorf("Read errors:\n%v\nwant %s:%d column %s value %q (%v)", err, tt.want.File, tt.want.Line, tt.want.Column, tt.want.Value, tt.want.Err)
		})
	}
}

func TestClientWithoutDemographics(t *testing.T) {
	p := newProvider(t, readSample(t), onerostertest.Options{NoDemographics: true}, ClientOptions{})
	f, err := p.client.Read(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := f.Files[KindDemographics]; st.Mode != ModeAbsent || len(f.Roster.Demographics) != 0 {
		t.Errorf("Files[demographics] = %+v with %d records, want absent", st, len(f.Roster.Demographics))
	}
	f, err = p.client.Read(context.Background(), &FetchOptions{SkipDemographics: true})
	if err != nil || f.Files[KindDemographics].Mode != ModeAbsent {
		t.Errorf("SkipDemographics: %v, %+v", err, f.Files[KindDemographics])
	}
}

func TestNewClientRejects(t *testing.T) {
	o2 := &OAuth2{TokenURL: "https://mis.example.org/token", ClientID: "c", SecretName: "s"}
	o1 := &OAuth1{ConsumerKey: "k", SecretName: "s"}
	tests := []struct {
		name string
		opts ClientOptions
	}{
		{"no auth", ClientOptions{BaseURL: "https://mis.example.org/ims/oneroster/v1p1", Secrets: testSecrets}},
		{"both auths", ClientOptions{BaseURL: "https://mis.example.org/ims/oneroster/v1p1", Secrets: testSecrets, OAuth1: o1, OAuth2: o2}},
		{"relative base", ClientOptions{BaseURL: "/ims/oneroster/v1p1", Secrets: testSecrets, OAuth1: o1}},
		{"no secrets", ClientOptions{BaseURL: "https://mis.example.org/ims/oneroster/v1p1", OAuth1: o1}},
		{"relative token URL", ClientOptions{BaseURL: "https://mis.example.org/ims/oneroster/v1p1", Secrets: testSecrets,
			OAuth2: &OAuth2{TokenURL: "/token", SecretName: "s"}}},
	}
	for _, tt := range tests {
		if _, err := NewClient(tt.opts); err == nil {
			t.Errorf("NewClient(%s) succeeded, want an error", tt.name)
		}
	}
}

func TestParseLinks(t *testing.T) {
	got := parseLinks([]string{`<https://a.example/users?offset=10>; rel="next", <https://a.example/users?offset=90>; rel=last`,
		`<https://a.example/users?offset=0>; rel="first prev"`, `garbage`})
	want := map[string]string{"next": "https://a.example/users?offset=10", "last": "https://a.example/users?offset=90",
		"first": "https://a.example/users?offset=0", "prev": "https://a.example/users?offset=0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseLinks = %v, want %v", got, want)
	}
	c, _ := NewClient(ClientOptions{BaseURL: "https://a.example/ims/oneroster/v1p1", Secrets: testSecrets, OAuth1: &OAuth1{}})
	if !c.sameOrigin("https://A.example/x") || c.sameOrigin("https://evil.example/x") || c.sameOrigin("http://a.example/x") {
		t.Error("sameOrigin disagrees")
	}
}
