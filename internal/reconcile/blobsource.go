package reconcile

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

// DropStore is the blob storage a BlobSource reads customers' drops from
// (internal/state/blobstore's Account in the product).
type DropStore interface {
	// ListBlobs returns the name and last-modified time of every blob in
	// container whose name starts with prefix.
	ListBlobs(ctx context.Context, container, prefix string) (map[string]time.Time, error)
	// ReadBlob returns a blob's content; for one over limit bytes, an
	// error with a method TooLarge() bool that says so.
	ReadBlob(ctx context.Context, container, name string, limit int64) ([]byte, error)
}

// DefaultMaxDropBytes caps what one drop may hold when BlobSource.MaxBytes
// is zero: far above any school's feed, far below what would hurt the
// worker that reads it into memory.
const DefaultMaxDropBytes = 512 << 20

// dropManifest is the file whose arrival completes a folder drop: MIS
// exports write it last.
const dropManifest = "manifest.csv"

// BlobSource reads OneRoster (or SDS) CSV drops from Blob Storage: what
// production has instead of a folder on disk. A profile's drops live under
// {container}/{customerId}/{prefix}/ and are either
//
//   - a zip blob directly there (an upload is atomic, so a listed zip is
//     whole), or
//   - a folder directly there (or the prefix folder itself) holding
//     manifest.csv, which the exporter writes last: a folder without it is
//     still being written and is ignored, as is one with a file newer than
//     its manifest (being overwritten by the next drop).
//
// The newest complete drop wins (a zip by its last-modified time, a folder
// by its manifest's); it is read whole, and a broken newest drop is
// refused rather than falling back to an older one, which would sync stale
// data without anyone noticing.
//
// A profile is customer input, so its names are checked again at use: the
// container must be the deployment's drop container, the prefix a relative
// path without '..', and every listed blob inside the customer's folder.
type BlobSource struct {
	Drops DropStore
	// Container is the deployment's drop container (tenant.DropContainer);
	// a profile may name it or leave it empty, and no other.
	Container string
	// MaxBytes caps one drop; 0 means DefaultMaxDropBytes.
	MaxBytes int64
	Clock    clock.Clock
}

var _ Source = BlobSource{}

// ErrNoBlobStorage is wrapped (with ErrBadFeed) when a deployment without
// Blob Storage settings meets a blob source.
var ErrNoBlobStorage = errors.New("this deployment has no Blob Storage for roster drops: set BlobsConnectionString or BlobsEndpoint")

// drop is one candidate drop under a profile's prefix.
type drop struct {
	name  string    // the zip blob, or the folder with a trailing '/'
	zip   bool      // a zip blob rather than a folder
	at    time.Time // the zip's, or the folder manifest's, last-modified time
	files []string  // a folder's blobs, its manifest among them
}

// Load finds the profile's newest complete drop and reads it. Refused
// profiles, a missing drop and feed problems are ErrBadFeed; storage
// trouble is returned as it is, for the runner to retry.
func (s BlobSource) Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (Feed, error) {
	src := p.Source
	if src.Kind != tenant.SourceBlob {
		return Feed{}, fmt.Errorf("%w: profile %s: this source reads blob drops, not %q", ErrBadFeed, p.ID, src.Kind)
	}
	if p.CustomerID != "" && p.CustomerID != c.ID {
		return Feed{}, fmt.Errorf("%w: profile %s belongs to customer %s, not %s", ErrBadFeed, p.ID, p.CustomerID, c.ID)
	}
	// Blob names get no egress check; the zero policy is enough to run the
	// name rules of a blob source.
	if err := src.Validate(c.ID, egress.Policy{}); err != nil {
		return Feed{}, fmt.Errorf("%w: profile %s: %w", ErrBadFeed, p.ID, err)
	}
	if s.Drops == nil || s.Container == "" {
		return Feed{}, fmt.Errorf("%w: profile %s: %w", ErrBadFeed, p.ID, ErrNoBlobStorage)
	}
	container := src.Container
	if container == "" {
		container = s.Container
	}
	if container != s.Container {
		return Feed{}, fmt.Errorf("%w: profile %s source.container %q: drops are read from this deployment's drop container %q only", ErrBadFeed, p.ID, container, s.Container)
	}
	base, err := dropBase(c.ID, src.Prefix)
	if err != nil {
		return Feed{}, fmt.Errorf("%w: profile %s: %w", ErrBadFeed, p.ID, err)
	}
	listed, err := s.Drops.ListBlobs(ctx, container, base)
	if err != nil {
		return Feed{}, fmt.Errorf("list roster drops in %s/%s: %w", container, base, err)
	}
	best, incomplete, err := newestDrop(base, listed)
	if err != nil {
		return Feed{}, fmt.Errorf("%w: profile %s: %w", ErrBadFeed, p.ID, err)
	}
	if best == nil {
		msg := fmt.Sprintf("no complete roster drop under %s/%s (want a .zip, or a folder whose %s is written last)", container, base, dropManifest)
		if incomplete > 0 {
			msg += fmt.Sprintf("; %d folder(s) without a current %s were ignored as incomplete", incomplete, dropManifest)
		}
		return Feed{}, fmt.Errorf("%w: profile %s: %s", ErrBadFeed, p.ID, msg)
	}
	limit := s.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxDropBytes
	}
	archive, err := s.fetch(ctx, container, best, limit)
	if err != nil {
		return Feed{}, err
	}
	clk := s.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	today, err := roster.ParseDate(clk.Now().UTC().Format("2006-01-02"))
	if err != nil {
		return Feed{}, err
	}
	label := path.Base(strings.TrimSuffix(best.name, "/"))
	f, err := oneroster.ReadZipFormat(ctx, bytes.NewReader(archive), int64(len(archive)), label, oneroster.Format(src.FeedFormat()), readOptions(p, today))
	if err != nil {
		if ctx.Err() != nil {
			return Feed{}, err
		}
		return Feed{}, fmt.Errorf("%w: profile %s: drop %s/%s: %w", ErrBadFeed, p.ID, container, best.name, err)
	}
	return feedOf(f), nil
}

// dropBase is where a customer's profile finds its drops:
// "{customerId}/{prefix}/". The customer id must be one path segment, so
// that no id can name another customer's folder (or a parent of it).
func dropBase(customerID, prefix string) (string, error) {
	if customerID == "" || customerID == "." || customerID == ".." || strings.ContainsAny(customerID, "/\\") {
		return "", fmt.Errorf("customer id %q cannot name a folder of the drop container", customerID)
	}
	base := customerID + "/"
	if p := strings.Trim(prefix, "/"); p != "" {
		base += p + "/"
	}
	return base, nil
}

// newestDrop picks the newest complete drop among the blobs listed under
// base, and counts the folders it ignored as incomplete.
func newestDrop(base string, listed map[string]time.Time) (*drop, int, error) {
	folders := map[string]*drop{}
	var drops []*drop
	for name, at := range listed {
		rest, ok := strings.CutPrefix(name, base)
		if !ok {
			// The store answered with a blob outside the customer's
			// folder: refuse rather than read it.
			return nil, 0, fmt.Errorf("blob %q listed outside the profile's folder %s", name, base)
		}
		dir, file := "", rest
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			dir, file = rest[:i], rest[i+1:]
		}
		switch {
		case strings.Contains(dir, "/"):
			continue // deeper than a drop folder's own files
		case dir == "" && strings.HasSuffix(strings.ToLower(file), ".zip"):
			drops = append(drops, &drop{name: name, zip: true, at: at})
			continue
		}
		// A file of the folder dir ("" is the prefix folder itself).
		key := base
		if dir != "" {
			key = base + dir + "/"
		}
		d := folders[key]
		if d == nil {
			d = &drop{name: key}
			folders[key] = d
		}
		d.files = append(d.files, name)
	}
	incomplete := 0
	for _, d := range folders {
		manifest, ok := listed[d.name+dropManifest]
		complete := ok
		for _, f := range d.files {
			if listed[f].After(manifest) {
				complete = false // written after the manifest: a new drop is arriving
			}
		}
		if !complete {
			// The prefix folder itself only counts when it holds csv files
			// loose; zips beside an unrelated file are not a broken drop.
			if d.name != base || hasCSV(d.files) {
				incomplete++
			}
			continue
		}
		d.at = manifest
		sort.Strings(d.files)
		drops = append(drops, d)
	}
	if len(drops) == 0 {
		return nil, incomplete, nil
	}
	sort.Slice(drops, func(i, j int) bool {
		if !drops[i].at.Equal(drops[j].at) {
			return drops[i].at.After(drops[j].at)
		}
		// Same second: the later name (drops are usually named by date).
		return drops[i].name > drops[j].name
	})
	return drops[0], incomplete, nil
}

func hasCSV(files []string) bool {
	for _, f := range files {
		if strings.HasSuffix(strings.ToLower(f), ".csv") {
			return true
		}
	}
	return false
}

// fetch returns the drop as a zip archive: the zip blob itself, or the
// folder's files packed into one in memory, so both are read by the same
// reader (oneroster.ReadZipFormat) with the same located errors.
func (s BlobSource) fetch(ctx context.Context, container string, d *drop, limit int64) ([]byte, error) {
	if d.zip {
		b, err := s.Drops.ReadBlob(ctx, container, d.name, limit)
		if err != nil {
			return nil, s.readError(container, d.name, limit, err)
		}
		return b, nil
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	remaining := limit
	for _, name := range d.files {
		if remaining <= 0 {
			return nil, fmt.Errorf("%w: drop %s/%s is over the %d-byte limit of one drop", ErrBadFeed, container, d.name, limit)
		}
		b, err := s.Drops.ReadBlob(ctx, container, name, remaining)
		if err != nil {
			return nil, s.readError(container, name, limit, err)
		}
		remaining -= int64(len(b))
		// Store, not deflate: the archive lives only until it is read.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: path.Base(name), Method: zip.Store})
		if err != nil {
			return nil, fmt.Errorf("pack drop %s: %w", d.name, err)
		}
		if _, err := w.Write(b); err != nil {
			return nil, fmt.Errorf("pack drop %s: %w", d.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pack drop %s: %w", d.name, err)
	}
	return buf.Bytes(), nil
}

// readError says what failed; a drop over the size cap is refused for
// good, anything else is storage trouble worth retrying.
func (s BlobSource) readError(container, name string, limit int64, err error) error {
	var big interface{ TooLarge() bool }
	if errors.As(err, &big) && big.TooLarge() {
		return fmt.Errorf("%w: drop %s/%s is over the %d-byte limit of one drop: %w", ErrBadFeed, container, name, limit, err)
	}
	return fmt.Errorf("read roster drop %s/%s: %w", container, name, err)
}
