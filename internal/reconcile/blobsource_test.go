package reconcile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state/blobstore"
	"github.com/rostersync/rostersync/internal/state/blobstore/blobtest"
	"github.com/rostersync/rostersync/internal/tenant"
)

// dropSchool is a generated school of n students, with its school year.
func dropSchool(t *testing.T, seed uint64, n int) (*roster.Roster, string) {
	t.Helper()
	r := sample.Generate(sample.Options{Seed: seed, Students: n, Staff: 2, StartYear: 2025, NoDemographics: true})
	for _, s := range r.Sessions {
		if s.Type == roster.SessionSchoolYear {
			return r, s.SourcedID
		}
	}
	t.Fatal("the sample school has no school year")
	return nil, ""
}

// feedFiles renders r as OneRoster CSV files by name.
func feedFiles(t *testing.T, r *roster.Roster) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := oneroster.Write(r, func(name string) (io.WriteCloser, error) {
		return &fileBuf{name: name, files: files}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files[dropManifest]; !ok {
		t.Fatal("the written feed has no manifest.csv")
	}
	return files
}

type fileBuf struct {
	bytes.Buffer
	name  string
	files map[string][]byte
}

func (f *fileBuf) Close() error { f.files[f.name] = f.Bytes(); return nil }

func feedZip(t *testing.T, r *roster.Roster) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := oneroster.WriteZip(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// dropper writes drops into a test container of Azurite's blob service.
type dropper struct {
	t         *testing.T
	a         *blobstore.Account
	container string
}

func newDropper(t *testing.T) *dropper {
	a := blobtest.Account(t)
	d := &dropper{t: t, a: a, container: blobtest.Container(t, a, "drops")}
	if err := a.EnsureContainer(t.Context(), d.container); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *dropper) put(name string, data []byte) {
	d.t.Helper()
	if err := d.a.Upload(d.t.Context(), d.container, name, data); err != nil {
		d.t.Fatal(err)
	}
}

// folder writes a folder drop as an exporter does: manifest.csv last, or
// not at all when the export is still under way.
func (d *dropper) folder(dir string, r *roster.Roster, withManifest bool) {
	d.t.Helper()
	files := feedFiles(d.t, r)
	names := make([]string, 0, len(files))
	for n := range files {
		if n != dropManifest {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		d.put(dir+"/"+n, files[n])
	}
	if withManifest {
		d.put(dir+"/"+dropManifest, files[dropManifest])
	}
}

func (d *dropper) source() BlobSource {
	return BlobSource{Drops: d.a, Container: d.container}
}

// nextSecond waits until Blob Storage's clock (whole seconds in
// Last-Modified) has moved on, so the next write is strictly newer.
func nextSecond() {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
}

func blobProfile(customer, session, prefix string) tenant.Profile {
	return tenant.Profile{ID: "nightly", CustomerID: customer, AcademicSession: session,
		Source: tenant.RosterSource{Kind: tenant.SourceBlob, Prefix: prefix}}
}

// TestBlobSourceDrops: the newest complete drop wins, be it a zip or a
// folder; a folder whose manifest.csv has not arrived is ignored; no
// profile reads another customer's drops or another container.
func TestBlobSourceDrops(t *testing.T) {
	d := newDropper(t)
	older, session := dropSchool(t, 1, 10)
	newer, _ := dropSchool(t, 2, 12)
	newest, _ := dropSchool(t, 3, 14)
	elms, _ := dropSchool(t, 4, 16)

	// t0: a complete folder in mis/, another in folders/; elm's zip.
	d.folder("oak/mis/2025-11-19", older, true)
	d.folder("oak/folders/a", older, true)
	d.put("elm/mis/2025-11-21.zip", feedZip(t, elms))
	nextSecond()
	// t1: a zip in mis/, a newer complete folder in folders/.
	d.put("oak/mis/2025-11-20.zip", feedZip(t, newer))
	d.folder("oak/folders/b", newest, true)
	nextSecond()
	// t2: the next export into mis/, still being written.
	d.folder("oak/mis/2025-11-21", newest, false)
	// An unrelated stray file deeper down, and a customer whose id starts
	// like oak's.
	d.put("oak/mis/archive/old/users.csv", []byte("x"))
	d.put("oakfield/mis/2025-12-01.zip", feedZip(t, elms))

	oak := tenant.Customer{ID: "oak"}
	ok := []struct {
		name   string
		prefix string
		want   int
	}{
		{"zip newer than a folder; the folder without manifest ignored", "mis", len(newer.People)},
		{"prefix with a trailing slash", "mis/", len(newer.People)},
		{"the newest of two complete folders", "folders", len(newest.People)},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := d.source().Load(t.Context(), oak, blobProfile("oak", session, tt.prefix))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := len(feed.Roster.People); got != tt.want {
				t.Errorf("read %d people, want %d (the newest complete drop)", got, tt.want)
			}
		})
	}

	// Once the manifest lands, the folder is complete and newest.
	t.Run("the folder completes when its manifest arrives", func(t *testing.T) {
		nextSecond()
		d.put("oak/mis/2025-11-21/"+dropManifest, feedFiles(t, newest)[dropManifest])
		feed, err := d.source().Load(t.Context(), oak, blobProfile("oak", session, "mis"))
		if err != nil || len(feed.Roster.People) != len(newest.People) {
			t.Fatalf("Load = %v people, %v; want the completed folder's %d", peopleOf(feed), err, len(newest.People))
		}
	})

	refused := []struct {
		name     string
		customer tenant.Customer
		profile  tenant.Profile
		want     string
	}{
		{"another customer's prefix", oak, blobProfile("oak", session, "../elm/mis"), "prefix"},
		{"a prefix that climbs out later", oak, blobProfile("oak", session, "mis/../../elm/mis"), "prefix"},
		{"an absolute prefix", oak, blobProfile("oak", session, "/elm/mis"), "prefix"},
		{"a profile of another customer", oak, blobProfile("elm", session, "mis"), "belongs to customer elm"},
		{"a customer id that is a path", tenant.Customer{ID: "oak/../elm"}, blobProfile("", session, "mis"), "cannot name a folder"},
		{"another container", oak, func() tenant.Profile {
			p := blobProfile("oak", session, "mis")
			p.Source.Container = "plans"
			return p
		}(), "drop container"},
		{"nothing dropped yet", oak, blobProfile("oak", session, "nothing"), "no complete roster drop"},
		{"only an incomplete folder", tenant.Customer{ID: "elm"}, blobProfile("elm", session, "partial"), "1 folder(s)"},
	}
	d.folder("elm/partial/2025-11-22", elms, false)
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := d.source().Load(t.Context(), tt.customer, tt.profile)
			if !errors.Is(err, ErrBadFeed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %d people, %v; want ErrBadFeed saying %q", peopleOf(feed), err, tt.want)
			}
		})
	}

	t.Run("no blob storage configured", func(t *testing.T) {
		_, err := BlobSource{}.Load(t.Context(), oak, blobProfile("oak", session, "mis"))
		if !errors.Is(err, ErrBadFeed) || !errors.Is(err, ErrNoBlobStorage) {
			t.Errorf("Load without storage = %v, want ErrBadFeed and ErrNoBlobStorage", err)
		}
	})
	t.Run("a drop over the size cap", func(t *testing.T) {
		src := d.source()
		src.MaxBytes = 1000
		for _, prefix := range []string{"mis", "folders"} {
			_, err := src.Load(t.Context(), oak, blobProfile("oak", session, prefix))
			if !errors.Is(err, ErrBadFeed) || !strings.Contains(err.Error(), "limit") {
				t.Errorf("Load(%s) over the cap = %v, want ErrBadFeed naming the limit", prefix, err)
			}
		}
	})
	t.Run("a broken newest zip is refused, not skipped for an older drop", func(t *testing.T) {
		nextSecond()
		d.put("oak/mis/2025-11-22.zip", []byte("PK not really a zip"))
		_, err := d.source().Load(t.Context(), oak, blobProfile("oak", session, "mis"))
		if !errors.Is(err, ErrBadFeed) || !strings.Contains(err.Error(), "2025-11-22.zip") {
			t.Errorf("Load = %v, want ErrBadFeed naming the broken drop", err)
		}
	})
	t.Run("Sources dispatches blob profiles", func(t *testing.T) {
		feed, err := Sources{Blobs: d.source()}.Load(t.Context(), oak, blobProfile("oak", session, "folders"))
		if err != nil || len(feed.Roster.People) != len(newest.People) {
			t.Errorf("Sources.Load = %d people, %v", peopleOf(feed), err)
		}
	})
}

func peopleOf(f Feed) int {
	if f.Roster == nil {
		return 0
	}
	return len(f.Roster.People)
}

// TestNewestDrop covers the choice among listed blobs without a service:
// times to the second, ties, a file rewritten after its manifest.
func TestNewestDrop(t *testing.T) {
	t0 := time.Date(2025, 11, 20, 2, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name       string
		listed     map[string]time.Time
		want       string
		incomplete int
	}{
		{"zip alone", map[string]time.Time{"oak/a.zip": at(0)}, "oak/a.zip", 0},
		{"upper-case extension", map[string]time.Time{"oak/A.ZIP": at(0)}, "oak/A.ZIP", 0},
		{"folder newer than zip", map[string]time.Time{"oak/a.zip": at(0), "oak/d/users.csv": at(1), "oak/d/manifest.csv": at(2)}, "oak/d/", 0},
		{"a file rewritten after the manifest", map[string]time.Time{"oak/a.zip": at(0), "oak/d/users.csv": at(3), "oak/d/manifest.csv": at(2)}, "oak/a.zip", 1},
		{"same second: the later name", map[string]time.Time{"oak/2025-11-19.zip": at(0), "oak/2025-11-20.zip": at(0)}, "oak/2025-11-20.zip", 0},
		{"the prefix folder itself", map[string]time.Time{"oak/users.csv": at(0), "oak/manifest.csv": at(0)}, "oak/", 0},
		{"loose csv without manifest beside a zip", map[string]time.Time{"oak/users.csv": at(5), "oak/a.zip": at(0)}, "oak/a.zip", 1},
		{"a zip inside a folder is a folder file", map[string]time.Time{"oak/d/a.zip": at(0)}, "", 1},
		{"deeper files are no drop", map[string]time.Time{"oak/d/e/manifest.csv": at(0)}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, incomplete, err := newestDrop("oak/", tt.listed)
			if err != nil {
				t.Fatal(err)
			}
			name := ""
			if got != nil {
				name = got.name
			}
			if name != tt.want || incomplete != tt.incomplete {
				t.Errorf("newestDrop = %q, %d incomplete; want %q, %d", name, incomplete, tt.want, tt.incomplete)
			}
		})
	}
	if _, _, err := newestDrop("oak/", map[string]time.Time{"elm/a.zip": t0}); err == nil {
		t.Error("newestDrop accepted a blob outside the customer's folder")
	}
}

// TestUsersSyncFromBlobDrop is a whole users sync whose roster comes from
// a drop in Blob Storage: every active person ends with one account.
func TestUsersSyncFromBlobDrop(t *testing.T) {
	d := newDropper(t)
	r, session := dropSchool(t, 7, 25)
	d.folder("oak/mis/2025-11-20", r, true)
	h := newHarness(t)
	h.users.Source = Sources{Blobs: d.source()}
	ctx := context.Background()
	run := runs.Run{ID: "blob1", CustomerID: "oak", Mode: runs.ModeApply}
	in := pipeline.EntityInput{Job: queue.Job{Entity: tenant.EntityUsers}, Run: run, Now: feedNow,
		Customer: tenant.Customer{ID: "oak", TenantID: "t-oak", Domains: []string{"oak.example"}},
		Profile:  blobProfile("oak", session, "mis")}
	counts := map[string]int{}
	for step := 0; ; step++ {
		if step == 20 {
			t.Fatal("users sync did not finish in 20 steps")
		}
		out, err := h.users.Sync(ctx, in)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		runs.MergeCounts(counts, out.Counts)
		if !out.More {
			break
		}
		in.Job.Step, in.Job.Cursor = step+1, out.Cursor
	}
	active := 0
	for _, p := range r.People {
		if p.Enabled {
			active++
		}
	}
	if len(h.tenant.accounts) != active {
		t.Errorf("tenant holds %d accounts after the sync (counts %v), want one per active person (%d)", len(h.tenant.accounts), counts, active)
	}
}
