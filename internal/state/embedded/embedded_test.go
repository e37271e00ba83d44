package embedded_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/state/storetest"
)

func open(t *testing.T, dir string) *embedded.Backend {
	t.Helper()
	b, err := embedded.Open(dir)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestContract(t *testing.T) {
	t.Run("Folder", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) state.Backend { return open(t, t.TempDir()) })
	})
	t.Run("Memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) state.Backend { return open(t, "") })
	})
}

func TestPersistence(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "nested", "state")
	b := open(t, dir)
	tb, err := b.Table(ctx, "Things")
	if err != nil {
		t.Fatal(err)
	}
	kept, err := tb.Insert(ctx, state.Entity{PartitionKey: "p", RowKey: "a", Props: map[string]string{"V": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Insert(ctx, state.Entity{PartitionKey: "p", RowKey: "gone"}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Delete(ctx, "p", "gone", state.ETagAny); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Table(ctx, "emptytable"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := open(t, dir)
	tb2, err := b2.Table(ctx, "things") // names are case-insensitive
	if err != nil {
		t.Fatal(err)
	}
	got, err := tb2.Get(ctx, "p", "a")
	if err != nil {
		t.Fatalf("Get after reopening: %v", err)
	}
	if got.Props["V"] != "1" || got.ETag != kept.ETag || !got.Timestamp.Equal(kept.Timestamp) {
		t.Errorf("after reopening, Get = %+v, want %+v", got, kept)
	}
	if _, err := tb2.Get(ctx, "p", "gone"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("deleted row after reopening: Get = %v, want ErrNotFound", err)
	}
	// The ETag read before the restart still guards the row.
	upd := got
	upd.Props = map[string]string{"V": "2"}
	if _, err := tb2.Update(ctx, upd); err != nil {
		t.Errorf("Update with the ETag from before reopening: %v", err)
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	// One database file beside the lock, no table files, and the empty
	// table exists in it as a created table exists in Azure.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := ".lock state.db"; strings.Join(names, " ") != want {
		t.Errorf("folder holds %q, want %q", names, want)
	}
	if got, want := buckets(t, dir), "emptytable things"; got != want {
		t.Errorf("state.db holds buckets %q, want %q", got, want)
	}
}

// buckets lists the bucket names of a closed folder's database.
func buckets(t *testing.T, dir string) string {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "state.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names []string
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(names, " ")
}

func TestOneBackendPerFolder(t *testing.T) {
	dir := t.TempDir()
	first := open(t, dir)
	if b, err := embedded.Open(dir); err == nil {
		b.Close()
		t.Fatalf("second Open of a folder in use = nil error, want it refused")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, dir) // free again
}

func TestClosed(t *testing.T) {
	ctx := t.Context()
	b := open(t, t.TempDir())
	tb, err := b.Table(ctx, "things")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Upsert(ctx, state.Entity{PartitionKey: "p", RowKey: "a"}); err == nil {
		t.Errorf("Upsert after Close = nil error, want an error")
	}
	if _, err := b.Table(ctx, "other"); err == nil {
		t.Errorf("Table after Close = nil error, want an error")
	}
}

func TestOpenRefusesBrokenFiles(t *testing.T) {
	cases := map[string]string{
		"not json":         "{",
		"unknown format":   `{"format": 99, "table": "things", "entities": []}`,
		"wrong table name": `{"format": 1, "table": "other", "entities": []}`,
		"duplicate row": `{"format": 1, "table": "things", "entities": [
			{"partitionKey": "p", "rowKey": "a", "etag": "x", "props": {}},
			{"partitionKey": "p", "rowKey": "a", "etag": "y", "props": {}}]}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "things.json"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := embedded.Open(dir)
			if err == nil {
				b.Close()
				t.Fatalf("Open with a broken things.json = nil error, want an error")
			}
			if !strings.Contains(err.Error(), "things.json") {
				t.Errorf("Open error %q does not name the file", err)
			}
		})
	}
}

// TestMigratesTableFiles opens a folder an earlier build wrote (one JSON
// file per table): its rows come across with their ETags and timestamps,
// the files are renamed so they are read once, and a leftover file (a
// crash between the copy and the rename) is copied again, replacing what
// the first copy wrote rather than doubling it.
func TestMigratesTableFiles(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	stamp := time.Date(2026, 3, 1, 3, 30, 0, 123456789, time.UTC)
	type row struct {
		PartitionKey string            `json:"partitionKey"`
		RowKey       string            `json:"rowKey"`
		ETag         string            `json:"etag"`
		Timestamp    time.Time         `json:"timestamp"`
		Props        map[string]string `json:"props"`
	}
	writeTable := func(file, name string, rows ...row) {
		t.Helper()
		data, err := json.Marshal(map[string]any{"format": 1, "table": name, "entities": rows})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeTable("things.json", "Things",
		row{"p", "b", `W/"b1"`, stamp, map[string]string{"V": "b"}},
		row{"p", "a", `W/"a1"`, stamp, map[string]string{"V": "a"}})
	writeTable("emptytable.json", "emptytable")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt.json"), []byte("not a table"), 0o600); err != nil {
		t.Fatal(err)
	}

	b := open(t, dir)
	tb, err := b.Table(ctx, "THINGS")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tb.List(ctx, state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].RowKey != "a" || got[0].ETag != `W/"a1"` || !got[0].Timestamp.Equal(stamp) || got[0].Props["V"] != "a" || got[1].RowKey != "b" {
		t.Fatalf("migrated rows = %+v", got)
	}
	// The old ETag still guards the row.
	if _, err := tb.Update(ctx, state.Entity{PartitionKey: "p", RowKey: "a", ETag: `W/"stale"`}); !errors.Is(err, state.ErrConflict) {
		t.Errorf("Update with a wrong ETag after migration = %v, want ErrConflict", err)
	}
	if _, err := tb.Update(ctx, state.Entity{PartitionKey: "p", RowKey: "a", ETag: `W/"a1"`, Props: map[string]string{"V": "a2"}}); err != nil {
		t.Errorf("Update with the migrated ETag: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"things.json", "emptytable.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after migration: %v, want it renamed", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, name+".migrated")); err != nil {
			t.Errorf("%s.migrated: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt.json")); err != nil {
		t.Errorf("a file that is no table was touched: %v", err)
	}
	if got, want := buckets(t, dir), "emptytable things"; got != want {
		t.Errorf("state.db holds buckets %q, want %q", got, want)
	}

	// Reopening does not migrate again: the update made since stays.
	b = open(t, dir)
	tb, err = b.Table(ctx, "things")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := tb.Get(ctx, "p", "a"); err != nil || e.Props["V"] != "a2" {
		t.Errorf("after reopening, Get = %+v, %v; want the update kept", e, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// A table file left beside the database is copied again, whole: the
	// table then holds exactly the file's rows.
	writeTable("things.json", "things", row{"q", "c", `W/"c1"`, stamp, nil})
	b = open(t, dir)
	tb, err = b.Table(ctx, "things")
	if err != nil {
		t.Fatal(err)
	}
	got, err = tb.List(ctx, state.Query{})
	if err != nil || len(got) != 1 || got[0].PartitionKey != "q" || got[0].RowKey != "c" || got[0].ETag != `W/"c1"` {
		t.Errorf("after migrating a leftover file, List = %+v, %v; want just q/c", got, err)
	}
}
