package reconcile

import (
	"context"
	"fmt"
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
