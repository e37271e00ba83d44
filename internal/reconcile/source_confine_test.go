package reconcile

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/oneroster/onerostertest"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/tenant"
)

// recordingSecrets is a secret source that remembers every name asked for.
type recordingSecrets struct {
	mu     sync.Mutex
	values map[string]string
	asked  []string
}

func (s *recordingSecrets) Secret(ctx context.Context, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, name)
	if v, ok := s.values[name]; ok {
		return v, nil
	}
	return "", errors.New("secret not found")
}

// TestRESTSourceRefusesAtUse loads profiles as they could sit in a store
// written before the rules existed (never validated): the source itself
// must refuse them before any secret is fetched or anything is sent.
func TestRESTSourceRefusesAtUse(t *testing.T) {
	r := sample.Generate(sample.Options{Seed: 5, Students: 10, Staff: 2, StartYear: 2026})
	var hits atomic.Int32
	provider := onerostertest.New(r, onerostertest.Options{OAuth2: &onerostertest.Credentials{ID: "rs-client", Secret: "s3cret"}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		provider.ServeHTTP(w, req)
	}))
	defer srv.Close()
	good := tenant.RosterSource{Kind: tenant.SourceREST, BaseURL: srv.URL + onerostertest.BasePath, TokenURL: srv.URL + onerostertest.TokenPath,
		ClientID: "rs-client", ClientSecretName: "customer-oak-mis"}
	local, production := egress.Policy{Local: true}, egress.Policy{}
	tests := []struct {
		name string
		pol  egress.Policy
		mod  func(*tenant.RosterSource)
	}{
		{"the sealing key", local, func(s *tenant.RosterSource) { s.ClientSecretName = "credentials-key" }},
		{"another customer's secret", local, func(s *tenant.RosterSource) { s.ClientSecretName = "customer-elm-mis" }},
		{"a secret outside every namespace", local, func(s *tenant.RosterSource) { s.ClientSecretName = "mis-secret" }},
		{"a longer customer's secret", local, func(s *tenant.RosterSource) { s.ClientSecretName = "customer-oak-field-mis" }},
		{"http token URL in production", production, nil},
		{"loopback in production", production, func(s *tenant.RosterSource) {
			s.TokenURL = "https://127.0.0.1/token"
		}},
		{"cloud metadata token URL", local, func(s *tenant.RosterSource) {
			s.TokenURL = "http://169.254.169.254/metadata/identity/oauth2/token"
		}},
		{"private base URL", local, func(s *tenant.RosterSource) { s.BaseURL = "https://10.0.0.5/ims/oneroster/v1p1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			secrets := &recordingSecrets{values: map[string]string{
				"customer-oak-mis": "s3cret", "credentials-key": "sealing", "customer-elm-mis": "s3cret",
				"mis-secret": "s3cret", "customer-oak-field-mis": "s3cret"}}
			src := good
			if tt.mod != nil {
				tt.mod(&src)
			}
			p := tenant.Profile{CustomerID: "oak", ID: "p", Source: src}
			_, err := RESTSource{Secrets: secrets, Egress: tt.pol}.Load(context.Background(), tenant.Customer{ID: "oak"}, p)
			if !errors.Is(err, ErrBadFeed) {
				t.Errorf("Load = %v, want ErrBadFeed", err)
			}
			if len(secrets.asked) > 0 {
				t.Errorf("secrets fetched: %q, want none", secrets.asked)
			}
			if n := hits.Load(); n > 0 {
				t.Errorf("the provider received %d requests, want none", n)
			}
		})
	}
}

// TestCustomerSecretsRefuseOutsideNamespace is the last line: whatever
// asks through the source's secret wrapper gets only the customer's own.
func TestCustomerSecretsRefuseOutsideNamespace(t *testing.T) {
	inner := &recordingSecrets{values: map[string]string{"credentials-key": "sealing", "customer-oak-mis": "ok"}}
	s := customerSecrets{inner: inner, customerID: "oak"}
	for _, name := range []string{"credentials-key", "customer-elm-mis", "graph-client-secret"} {
		if _, err := s.Secret(context.Background(), name); !errors.Is(err, tenant.ErrInvalid) {
			t.Errorf("Secret(%q) = %v, want ErrInvalid", name, err)
		}
	}
	if v, err := s.Secret(context.Background(), "customer-oak-mis"); err != nil || v != "ok" {
		t.Errorf("Secret(customer-oak-mis) = %q, %v, want ok", v, err)
	}
	if !slices.Equal(inner.asked, []string{"customer-oak-mis"}) {
		t.Errorf("inner source asked for %q, want only customer-oak-mis", inner.asked)
	}
}

// TestRESTSourceNoRedirectElsewhere: a token endpoint that redirects to
// another server must not get the client secret carried there.
func TestRESTSourceNoRedirectElsewhere(t *testing.T) {
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"x","token_type":"bearer"}`))
	}))
	defer thief.Close()
	tu, _ := url.Parse(thief.URL)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+tu.Port()+"/token", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	p := tenant.Profile{CustomerID: "oak", ID: "p", Source: tenant.RosterSource{Kind: tenant.SourceREST,
		BaseURL: srv.URL + onerostertest.BasePath, TokenURL: srv.URL + onerostertest.TokenPath, ClientID: "rs-client", ClientSecretName: "customer-oak-mis"}}
	secrets := &recordingSecrets{values: map[string]string{"customer-oak-mis": "s3cret"}}
	_, err := RESTSource{Secrets: secrets, Egress: egress.Policy{Local: true}}.Load(context.Background(), tenant.Customer{ID: "oak"}, p)
	if !errors.Is(err, ErrBadFeed) || !errors.Is(err, egress.ErrRefused) {
		t.Errorf("Load = %v, want ErrBadFeed wrapping egress.ErrRefused", err)
	}
	if n := stolen.Load(); n > 0 {
		t.Errorf("the redirect target received %d requests, want none", n)
	}
}

// TestFileSourceConfined: a customer's profile reads only inside
// Root/{customerId}, whatever path or symlink it names.
func TestFileSourceConfined(t *testing.T) {
	r := sample.Generate(sample.Options{Seed: 5, Students: 10, Staff: 2, StartYear: 2026})
	var session string
	for _, s := range r.Sessions {
		if s.Type == "schoolYear" {
			session = s.SourcedID
		}
	}
	root := t.TempDir()
	for _, c := range []string{"oak", "elm"} {
		if err := oneroster.WriteDir(filepath.Join(root, c, "feed"), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(root, "oak", name)); err != nil {
			t.Fatal(err)
		}
	}
	link(filepath.Join(root, "elm", "feed"), "elm-abs")
	link(filepath.Join("..", "elm", "feed"), "elm-rel")
	link("feed", "latest")
	tests := []struct {
		name string
		src  FileSource
		path string
		ok   bool
	}{
		{"relative path", FileSource{Root: root}, "feed", true},
		{"absolute path inside the customer's folder", FileSource{Root: root}, filepath.Join(root, "oak", "feed"), true},
		{"symlink inside the customer's folder", FileSource{Root: root}, "latest", true},
		{"parent escape", FileSource{Root: root}, "../elm/feed", false},
		{"parent escape inside the path", FileSource{Root: root}, "feed/../../elm/feed", false},
		{"absolute path of another customer", FileSource{Root: root}, filepath.Join(root, "elm", "feed"), false},
		{"absolute path on the host", FileSource{Root: root}, "/etc", false},
		{"symlink escape, absolute target", FileSource{Root: root}, "elm-abs", false},
		{"symlink escape, relative target", FileSource{Root: root}, "elm-rel", false},
		{"production (no root)", FileSource{}, "feed", false},
		{"one-shot command folder", FileSource{Dir: filepath.Join(root, "oak")}, "feed", true},
		{"one-shot command folder, escape", FileSource{Dir: filepath.Join(root, "oak")}, "elm-rel", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tenant.Profile{CustomerID: "oak", ID: "p", AcademicSession: session, Source: tenant.RosterSource{Kind: tenant.SourceCSV, Path: tt.path}}
			feed, err := tt.src.Load(context.Background(), tenant.Customer{ID: "oak"}, p)
			switch {
			case tt.ok && err != nil:
				t.Errorf("Load(%q) = %v, want the feed", tt.path, err)
			case tt.ok && len(feed.Roster.People) != len(r.People):
				t.Errorf("Load(%q) read %d people, want %d", tt.path, len(feed.Roster.People), len(r.People))
			case !tt.ok && !errors.Is(err, ErrBadFeed):
				t.Errorf("Load(%q) = %v, want ErrBadFeed", tt.path, err)
			}
		})
	}
	p := tenant.Profile{CustomerID: "oak", ID: "p", Source: tenant.RosterSource{Kind: tenant.SourceCSV, Path: "feed"}}
	if _, err := (FileSource{}).Load(context.Background(), tenant.Customer{ID: "oak"}, p); !errors.Is(err, ErrNoLocalFeeds) {
		t.Errorf("production Load = %v, want ErrNoLocalFeeds", err)
	}
}
