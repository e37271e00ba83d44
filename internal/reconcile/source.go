package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

// FileSource reads OneRoster CSV feeds (folders or zips) from disk; a
// relative profile path is taken under Root.
type FileSource struct {
	Root  string
	Clock clock.Clock
}

var _ Source = FileSource{}

// Load reads and validates the profile's feed. Any read or validation
// problem is ErrBadFeed with every located error the reader collected.
func (s FileSource) Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (Feed, error) {
	if p.Source.Kind != "" && p.Source.Kind != tenant.SourceCSV {
		return Feed{}, fmt.Errorf("%w: profile %s: this source reads csv feeds, not %q", ErrBadFeed, p.ID, p.Source.Kind)
	}
	if p.Source.Path == "" {
		return Feed{}, fmt.Errorf("%w: profile %s names no roster path", ErrBadFeed, p.ID)
	}
	path := p.Source.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.Root, path)
	}
	clk := s.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	today, err := roster.ParseDate(clk.Now().UTC().Format("2006-01-02"))
	if err != nil {
		return Feed{}, err
	}
	opts := &oneroster.ReadOptions{ValidateOptions: oneroster.ValidateOptions{Session: p.AcademicSession}}
	if p.AcademicSession == "" {
		opts.On = today
	}
	f, err := oneroster.Open(ctx, path, opts)
	if err != nil {
		return Feed{}, fmt.Errorf("%w: %w", ErrBadFeed, err)
	}
	return Feed{Roster: f.Roster, Session: f.Session}, nil
}

// RESTSource reads a OneRoster 1.1 REST endpoint with OAuth 2 client
// credentials; the client secret comes from Secrets.
type RESTSource struct {
	Secrets    oneroster.Secrets
	HTTPClient *http.Client
	Clock      clock.Clock
}

var _ Source = RESTSource{}

// Load reads and validates the profile's REST feed. Credentials refused
// and validation problems are ErrBadFeed (retrying will not help); network
// trouble is returned as it is, for the runner to retry.
func (s RESTSource) Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (Feed, error) {
	src := p.Source
	if src.BaseURL == "" || src.TokenURL == "" || src.ClientID == "" || src.ClientSecretName == "" {
		return Feed{}, fmt.Errorf("%w: profile %s: a rest source needs baseUrl, tokenUrl, clientId and clientSecretName", ErrBadFeed, p.ID)
	}
	client, err := oneroster.NewClient(oneroster.ClientOptions{BaseURL: src.BaseURL, Secrets: s.Secrets, HTTPClient: s.HTTPClient, Clock: s.Clock,
		OAuth2: &oneroster.OAuth2{TokenURL: src.TokenURL, ClientID: src.ClientID, SecretName: src.ClientSecretName}})
	if err != nil {
		return Feed{}, fmt.Errorf("%w: profile %s: %w", ErrBadFeed, p.ID, err)
	}
	clk := s.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	today, err := roster.ParseDate(clk.Now().UTC().Format("2006-01-02"))
	if err != nil {
		return Feed{}, err
	}
	opts := &oneroster.FetchOptions{ReadOptions: oneroster.ReadOptions{ValidateOptions: oneroster.ValidateOptions{Session: p.AcademicSession}}}
	if p.AcademicSession == "" {
		opts.On = today
	}
	f, err := client.Read(ctx, opts)
	var list *oneroster.ErrorList
	var perr *oneroster.ParseError
	if errors.Is(err, oneroster.ErrUnauthorized) || errors.As(err, &list) || errors.As(err, &perr) {
		return Feed{}, fmt.Errorf("%w: %w", ErrBadFeed, err)
	}
	if err != nil {
		return Feed{}, fmt.Errorf("read roster from %s: %w", src.BaseURL, err)
	}
	return Feed{Roster: f.Roster, Session: f.Session}, nil
}

// Sources picks the reader by the profile's source kind.
type Sources struct {
	Files FileSource
	REST  RESTSource
}

var _ Source = Sources{}

// Load dispatches on p.Source.Kind (csv when empty).
func (s Sources) Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (Feed, error) {
	switch p.Source.Kind {
	case "", tenant.SourceCSV:
		return s.Files.Load(ctx, c, p)
	case tenant.SourceREST:
		return s.REST.Load(ctx, c, p)
	}
	return Feed{}, fmt.Errorf("%w: profile %s: unknown source kind %q (want csv or rest)", ErrBadFeed, p.ID, p.Source.Kind)
}
