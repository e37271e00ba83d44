package embedded_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if _, err := os.Stat(filepath.Join(dir, "emptytable.json")); err != nil {
		t.Errorf("a created table has no file: %v", err)
	}
	// No temporary files are left behind, and the file is plain JSON.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := ".lock emptytable.json things.json"; strings.Join(names, " ") != want {
		t.Errorf("folder holds %q, want %q", names, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, "things.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Table    string
		Entities []struct{ PartitionKey, RowKey string }
	}
	if err := json.Unmarshal(data, &f); err != nil || f.Table != "Things" || len(f.Entities) != 1 {
		t.Errorf("things.json = %s (%v)", data, err)
	}
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

// TestFailedWriteChangesNothing makes the table's file impossible to
// replace: the write must fail, and memory must not keep what the file
// could not.
func TestFailedWriteChangesNothing(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	b := open(t, dir)
	tb, err := b.Table(ctx, "things")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Insert(ctx, state.Entity{PartitionKey: "p", RowKey: "a", Props: map[string]string{"V": "1"}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "things.json")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// A non-empty directory where the file was: rename cannot replace it.
	if err := os.MkdirAll(filepath.Join(path, "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Upsert(ctx, state.Entity{PartitionKey: "p", RowKey: "a", Props: map[string]string{"V": "2"}}); err == nil {
		t.Fatal("Upsert with an unwritable file = nil error, want an error")
	}
	if _, err := tb.Insert(ctx, state.Entity{PartitionKey: "p", RowKey: "b"}); err == nil {
		t.Fatal("Insert with an unwritable file = nil error, want an error")
	}
	err = tb.Transact(ctx, []state.Op{{Kind: state.OpDelete, Entity: state.Entity{PartitionKey: "p", RowKey: "a", ETag: state.ETagAny}}})
	if err == nil {
		t.Fatal("Transact with an unwritable file = nil error, want an error")
	}
	got, err := tb.Get(ctx, "p", "a")
	if err != nil || got.Props["V"] != "1" {
		t.Errorf("Get after failed writes = %+v, %v; want the row as before", got, err)
	}
	if _, err := tb.Get(ctx, "p", "b"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Get of a row whose insert failed = %v, want ErrNotFound", err)
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
