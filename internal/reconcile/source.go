package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

// FileSource reads OneRoster CSV feeds (folders or zips) from the host's
// disk, which only local runs do: production reads feeds from storage, and
// `serve` outside local mode leaves FileSource zero, which refuses every
// path. A profile names a path relative to its customer's own folder,
// Root/{customerId}; an absolute path is accepted only inside that folder,
// and neither '..' nor a symlink can lead out of it (os.Root), so one
// customer's profile cannot read another's feeds or the host's files.
type FileSource struct {
	// Root holds one folder per customer, named by the customer id.
	Root string
	// Dir, when set, replaces Root/{customerId} for every customer: the
	// one-shot sync and demo commands keep a single customer of their own
	// and read the feed their operator named on the command line.
	Dir   string
	Clock clock.Clock
}

var _ Source = FileSource{}

// ErrNoLocalFeeds is wrapped (with ErrBadFeed) when a deployment that
// reads no feeds from its disk meets a csv path source.
var ErrNoLocalFeeds = errors.New("this deployment reads no feeds from the host's disk: a csv path source works in local mode only (production reads feeds from storage)")

// Load reads and validates the profile's feed. Any read or validation
// problem is ErrBadFeed with every located error the reader collected.
func (s FileSource) Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (Feed, error) {
	if k := p.Source.Kind; k != "" && k != tenant.SourceCSV && k != tenant.SourceSDSv1 && k != tenant.SourceSDSv21 {
		return Feed{}, fmt.Errorf("%w: profile %s: this source reads csv feeds, not %q", ErrBadFeed, p.ID, p.Source.Kind)
	}
	if p.Source.Path == "" {
		return Feed{}, fmt.Errorf("%w: profile %s names no roster path", ErrBadFeed, p.ID)
	}
	if p.CustomerID != "" && p.CustomerID != c.ID {
		return Feed{}, fmt.Errorf("%w: profile %s belongs to customer %s, not %s", ErrBadFeed, p.ID, p.CustomerID, c.ID)
	}
	folder := s.Dir
	if folder == "" {
		if s.Root == "" {
			return Feed{}, fmt.Errorf("%w: profile %s: %w", ErrBadFeed, p.ID, ErrNoLocalFeeds)
		}
		if !filepath.IsLocal(c.ID) {
			return Feed{}, fmt.Errorf("%w: customer id %q cannot name a folder", ErrBadFeed, c.ID)
		}
		folder = filepath.Join(s.Root, c.ID)
	}
	rel := p.Source.Path
	if filepath.IsAbs(rel) {
		// A profile saved before paths had to be relative; it may still
		// point inside its customer's folder.
		absFolder, err := filepath.Abs(folder)
		if err != nil {
			return Feed{}, fmt.Errorf("customer feed folder %s: %w", folder, err)
		}
		if rel, err = filepath.Rel(absFolder, filepath.Clean(rel)); err != nil {
			rel = ".."
		}
	}
	if !filepath.IsLocal(rel) {
		return Feed{}, fmt.Errorf("%w: profile %s source.path %q leaves the customer's feed folder", ErrBadFeed, p.ID, p.Source.Path)
	}
	clk := s.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	today, err := roster.ParseDate(clk.Now().UTC().Format("2006-01-02"))
	if err != nil {
		return Feed{}, err
	}
	opts := readOptions(p, today)
	f, err := openConfined(ctx, folder, rel, p.Source.FeedFormat(), opts)
	if err != nil {
		return Feed{}, fmt.Errorf("%w: profile %s: %w", ErrBadFeed, p.ID, err)
	}
	return feedOf(f), nil
}

// readOptions are the read options a profile asks for: its session, or the
// one running today, and its quarantine cap.
func readOptions(p tenant.Profile, today roster.Date) *oneroster.ReadOptions {
	opts := &oneroster.ReadOptions{ValidateOptions: oneroster.ValidateOptions{Session: p.AcademicSession, MaxQuarantine: p.Source.MaxQuarantinePercent / 100}}
	if p.AcademicSession == "" {
		opts.On = today
	}
	return opts
}

func feedOf(f *oneroster.Feed) Feed {
	return Feed{Roster: f.Roster, Session: f.Session, Quarantined: f.Quarantined}
}

// PlanQuarantined is the feed's quarantine list as a plan records it.
func (f Feed) PlanQuarantined() []plan.Quarantined {
	if len(f.Quarantined) == 0 {
		return nil
	}
	out := make([]plan.Quarantined, len(f.Quarantined))
	for i, q := range f.Quarantined {
		out[i] = plan.Quarantined{File: q.File, Line: q.Line, Column: q.Column, Value: q.Value, SourcedID: q.SourcedID, Reason: q.Reason}
	}
	return out
}

// openConfined reads the feed at rel (a folder or a zip) inside folder
// through os.Root, which refuses any step, symlinks included, that leaves
// folder.
func openConfined(ctx context.Context, folder, rel, format string, opts *oneroster.ReadOptions) (*oneroster.Feed, error) {
	root, err := os.OpenRoot(folder)
	if err != nil {
		return nil, fmt.Errorf("open the customer's feed folder: %w", err)
	}
	defer root.Close()
	info, err := root.Stat(rel)
	if err != nil {
		return nil, fmt.Errorf("open roster feed: %w", err)
	}
	if info.IsDir() {
		sub, err := root.OpenRoot(rel)
		if err != nil {
			return nil, fmt.Errorf("open roster feed: %w", err)
		}
		defer sub.Close()
		return oneroster.ReadFormat(ctx, sub.FS(), oneroster.Format(format), opts)
	}
	f, err := root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("open roster feed: %w", err)
	}
	defer f.Close()
	return oneroster.ReadZipFormat(ctx, f, info.Size(), filepath.Base(rel), oneroster.Format(format), opts)
}

// RESTSource reads a OneRoster 1.1 REST endpoint with OAuth 2 client
// credentials; the client secret comes from Secrets. A profile is customer
// input, so before anything is fetched its source is checked again (a
// profile stored before the rules existed is no exception): the secret
// must be in the customer's namespace (tenant.CheckSecretName) and the
// URLs must pass Egress, whose HTTP client also checks every address it
// dials and refuses redirects to another server.
type RESTSource struct {
	Secrets oneroster.Secrets
	// Egress is where sources may send credentials; the zero value is
	// production's (https to public addresses only).
	Egress egress.Policy
	Clock  clock.Clock
}

var _ Source = RESTSource{}

// Load reads and validates the profile's REST feed. Credentials refused
// and validation problems are ErrBadFeed (retrying will not help); network
// trouble is returned as it is, for the runner to retry.
func (s RESTSource) Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (Feed, error) {
	src := p.Source
	if p.CustomerID != "" && p.CustomerID != c.ID {
		return Feed{}, fmt.Errorf("%w: profile %s belongs to customer %s, not %s", ErrBadFeed, p.ID, p.CustomerID, c.ID)
	}
	if err := src.Validate(c.ID, s.Egress); err != nil {
		return Feed{}, fmt.Errorf("%w: profile %s: %w", ErrBadFeed, p.ID, err)
	}
	secrets := customerSecrets{inner: s.Secrets, customerID: c.ID}
	client, err := oneroster.NewClient(oneroster.ClientOptions{BaseURL: src.BaseURL, Secrets: secrets, Egress: s.Egress, Clock: s.Clock,
		OAuth2: &oneroster.OAuth2{TokenURL: src.TokenURL, ClientID: src.ClientID, SecretName: src.ClientSecretName, Scope: src.Scope}})
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
	opts := &oneroster.FetchOptions{ReadOptions: *readOptions(p, today)}
	f, err := client.Read(ctx, opts)
	var list *oneroster.ErrorList
	var perr *oneroster.ParseError
	if errors.Is(err, oneroster.ErrUnauthorized) || errors.Is(err, egress.ErrRefused) || errors.Is(err, tenant.ErrInvalid) ||
		errors.As(err, &list) || errors.As(err, &perr) {
		return Feed{}, fmt.Errorf("%w: %w", ErrBadFeed, err)
	}
	if err != nil {
		return Feed{}, fmt.Errorf("read roster from %s: %w", src.BaseURL, err)
	}
	return feedOf(f), nil
}

// customerSecrets hands out only the customer's own secrets: whatever asks
// through it, a product secret or another customer's is never fetched.
type customerSecrets struct {
	inner      oneroster.Secrets
	customerID string
}

func (s customerSecrets) Secret(ctx context.Context, name string) (string, error) {
	if err := tenant.CheckSecretName(s.customerID, name); err != nil {
		return "", err
	}
	if s.inner == nil {
		return "", errors.New("no secret source configured")
	}
	return s.inner.Secret(ctx, name)
}

// Sources picks the reader by the profile's source kind.
type Sources struct {
	Files FileSource
	REST  RESTSource
	Blobs BlobSource
}

var _ Source = Sources{}

// Load dispatches on p.Source.Kind (csv when empty).
func (s Sources) Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (Feed, error) {
	switch p.Source.Kind {
	case "", tenant.SourceCSV, tenant.SourceSDSv1, tenant.SourceSDSv21:
		return s.Files.Load(ctx, c, p)
	case tenant.SourceREST:
		return s.REST.Load(ctx, c, p)
	case tenant.SourceBlob:
		return s.Blobs.Load(ctx, c, p)
	}
	return Feed{}, fmt.Errorf("%w: profile %s: unknown source kind %q (want csv, rest, blob, sds-v1 or sds-v2.1)", ErrBadFeed, p.ID, p.Source.Kind)
}
