package reconcile

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/oneroster/onerostertest"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/tenant"
)

type secretMap map[string]string

func (m secretMap) Secret(ctx context.Context, name string) (string, error) {
	if v, ok := m[name]; ok {
		return v, nil
	}
	return "", errors.New("secret not found")
}

func TestRESTSource(t *testing.T) {
	r := sample.Generate(sample.Options{Seed: 5, Students: 40, Staff: 6, StartYear: 2026})
	srv := httptest.NewServer(onerostertest.New(r, onerostertest.Options{OAuth2: &onerostertest.Credentials{ID: "rs-client", Secret: "s3cret"}}))
	defer srv.Close()
	var session string
	for _, s := range r.Sessions {
		if s.Type == "schoolYear" {
			session = s.SourcedID
		}
	}
	profile := func(secret string) tenant.Profile {
		return tenant.Profile{CustomerID: "oak", ID: "p", AcademicSession: session, Source: tenant.RosterSource{Kind: tenant.SourceREST,
			BaseURL: srv.URL + onerostertest.BasePath, TokenURL: srv.URL + onerostertest.TokenPath, ClientID: "rs-client", ClientSecretName: secret}}
	}
	// httptest serves plain http on loopback: local mode.
	src := Sources{REST: RESTSource{Secrets: secretMap{"customer-oak-mis": "s3cret", "customer-oak-wrong": "nope"}, Egress: egress.Policy{Local: true}}}
	feed, err := src.Load(context.Background(), tenant.Customer{ID: "oak"}, profile("customer-oak-mis"))
	if err != nil {
		t.Fatal(err)
	}
	if len(feed.Roster.People) != len(r.People) || feed.Session != session {
		t.Errorf("REST feed has %d people in session %q, want %d in %q", len(feed.Roster.People), feed.Session, len(r.People), session)
	}
	if _, err := src.Load(context.Background(), tenant.Customer{ID: "oak"}, profile("customer-oak-wrong")); !errors.Is(err, ErrBadFeed) {
		t.Errorf("refused credentials = %v, want ErrBadFeed (retrying cannot help)", err)
	}
	bad := profile("customer-oak-mis")
	bad.Source.Kind = "ftp"
	if _, err := src.Load(context.Background(), tenant.Customer{ID: "oak"}, bad); !errors.Is(err, ErrBadFeed) {
		t.Errorf("unknown source kind = %v, want ErrBadFeed", err)
	}
}
