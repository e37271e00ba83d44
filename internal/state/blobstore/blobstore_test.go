package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/blobstore"
	"github.com/rostersync/rostersync/internal/state/blobstore/blobtest"
	"github.com/rostersync/rostersync/internal/state/storetest"
	"github.com/rostersync/rostersync/internal/state/tablestore"
)

// TestBlobs is the state.Blobs contract on Blob Storage: a value comes
// back as it was put, a name never put is ErrNotFound (in a container that
// does not exist yet too), and putting the same name again replaces it.
func TestBlobs(t *testing.T) {
	a := blobtest.Account(t)
	ctx := t.Context()
	b, err := a.Blobs(blobtest.Container(t, a, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetBlob(ctx, "plan/none"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("GetBlob before the container exists = %v, want ErrNotFound", err)
	}
	big := make([]byte, 3<<20) // several reads from the download stream
	for i := range big {
		big[i] = byte(rand.IntN(256))
	}
	values := map[string][]byte{
		"plan/abc":         []byte("a plan body"),
		"plan/empty":       {},
		"plan/big":         big,
		"plan/with.dot-_x": []byte{0, 1, 2, 255},
	}
	for name, v := range values {
		if err := b.PutBlob(ctx, name, v); err != nil {
			t.Fatalf("PutBlob(%s): %v", name, err)
		}
	}
	for name, v := range values {
		got, err := b.GetBlob(ctx, name)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("GetBlob(%s) = %d bytes, %v; want the %d bytes put", name, len(got), err, len(v))
		}
	}
	if _, err := b.GetBlob(ctx, "plan/missing"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("GetBlob(missing) = %v, want ErrNotFound", err)
	}
	// A redelivered save puts the same body again; a second put of the
	// same name must succeed and leave the value readable.
	for range 2 {
		if err := b.PutBlob(ctx, "plan/abc", []byte("a plan body")); err != nil {
			t.Fatalf("PutBlob again: %v", err)
		}
	}
	if err := b.PutBlob(ctx, "plan/abc", []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetBlob(ctx, "plan/abc"); err != nil || string(got) != "replaced" {
		t.Errorf("GetBlob after overwrite = %q, %v; want %q", got, err, "replaced")
	}
	// Purges delete what they no longer need.
	if err := b.DeleteBlob(ctx, "plan/abc"); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
	if _, err := b.GetBlob(ctx, "plan/abc"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("GetBlob after DeleteBlob = %v, want ErrNotFound", err)
	}
	if err := b.DeleteBlob(ctx, "plan/abc"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("second DeleteBlob = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "/abs", "a/../b", "a//b", "a/", "a b"} {
		if err := b.PutBlob(ctx, bad, nil); err == nil {
			t.Errorf("PutBlob(%q) = nil error, want the name refused", bad)
		}
	}
}

func TestListAndReadLimits(t *testing.T) {
	a := blobtest.Account(t)
	ctx := t.Context()
	c := blobtest.Container(t, a, "list")
	if got, err := a.ListBlobs(ctx, c, ""); err != nil || len(got) != 0 {
		t.Fatalf("ListBlobs of a missing container = %v, %v; want nothing", got, err)
	}
	if err := a.EnsureContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Minute)
	for _, n := range []string{"oak/a.zip", "oak/d1/manifest.csv", "oakfield/a.zip", "elm/a.zip"} {
		if err := a.Upload(ctx, c, n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.ListBlobs(ctx, c, "oak/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["oak/a.zip"].Before(before) || got["oak/d1/manifest.csv"].IsZero() {
		t.Errorf("ListBlobs(oak/) = %v, want oak/a.zip and oak/d1/manifest.csv with their times", got)
	}
	_, err = a.ReadBlob(ctx, c, "oak/a.zip", 3)
	var big interface{ TooLarge() bool }
	if !errors.Is(err, blobstore.ErrTooLarge) || !errors.As(err, &big) || !big.TooLarge() {
		t.Errorf("ReadBlob over its limit = %v, want ErrTooLarge, saying TooLarge()", err)
	}
	if b, err := a.ReadBlob(ctx, c, "oak/a.zip", 9); err != nil || string(b) != "oak/a.zip" {
		t.Errorf("ReadBlob at its limit = %q, %v", b, err)
	}
}

func TestConstructors(t *testing.T) {
	for _, cs := range []string{"UseDevelopmentStorage=true", "usedevelopmentstorage=TRUE;", blobstore.DevelopmentConnectionString} {
		if _, err := blobstore.FromConnectionString(cs); err != nil {
			t.Errorf("FromConnectionString(%q): %v", cs, err)
		}
	}
	if _, err := blobstore.FromConnectionString("not a connection string"); err == nil {
		t.Error("FromConnectionString(garbage) = nil error, want an error")
	}
	if _, err := blobstore.FromConnectionString(blobstore.DevelopmentConnectionString, blobstore.Options{}, blobstore.Options{}); err == nil {
		t.Error("FromConnectionString with two Options = nil error, want an error")
	}
	a, err := blobstore.FromConnectionString(blobstore.DevelopmentConnectionString)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"Plans", "pl", "a--b", "-ab", strings.Repeat("a", 64)} {
		if _, err := a.Blobs(bad); err == nil {
			t.Errorf("Blobs(%q) = nil error, want the container name refused", bad)
		}
	}
}

// productionBackend is production's arrangement on Azurite: tables in
// Table Storage (a fresh prefix), plan bodies in a fresh container.
func productionBackend(t *testing.T) (state.Backend, *blobstore.Account, string) {
	t.Helper()
	a := blobtest.Account(t)
	container := blobtest.Container(t, a, "plans")
	blobs, err := a.Blobs(container)
	if err != nil {
		t.Fatal(err)
	}
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	prefix := []byte{'b'}
	for range 10 {
		prefix = append(prefix, alnum[rand.IntN(len(alnum))])
	}
	tables, err := tablestore.FromConnectionString(blobtest.TablesConnectionString(t), tablestore.Options{TablePrefix: string(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tables.DeleteTables(ctx); err != nil {
			t.Errorf("delete test tables: %v", err)
		}
	})
	return state.WithBlobs(tables, blobs), a, container
}

// TestPlanContract runs storetest's plan cases (atomic save, a failure
// between body and header, redelivery, journal merge) with the bodies in
// Blob Storage.
func TestPlanContract(t *testing.T) {
	storetest.RunPlans(t, func(t *testing.T) state.Backend {
		b, _, _ := productionBackend(t)
		return b
	})
}

// TestPlanBodyIsABlob: with Blob Storage attached, a plan's body is one
// blob in the container and nothing in the blobs table.
func TestPlanBodyIsABlob(t *testing.T) {
	ctx := t.Context()
	b, a, container := productionBackend(t)
	s := state.NewStore(b, nil)
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "cust1", RunID: "r1", Entity: "users",
		Changes: []plan.Change{{Kind: plan.KindUser, Key: "s1", Action: plan.Create, After: map[string]string{"displayName": "x"}}}}
	if err := s.SavePlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	listed, err := a.ListBlobs(ctx, container, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 {
		t.Fatalf("container holds %v, want one plan body", listed)
	}
	for name := range listed {
		if !strings.HasPrefix(name, "plan/") {
			t.Errorf("plan body blob %q, want it under plan/", name)
		}
	}
	tb, err := b.Table(ctx, state.TableBlobs)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := tb.List(ctx, state.Query{}); err != nil || len(rows) != 0 {
		t.Errorf("blobs table holds %d rows (%v), want none: the body belongs in Blob Storage", len(rows), err)
	}
	got, _, err := s.LoadPlan(ctx, "cust1", "r1", "users")
	if err != nil || len(got.Changes) != 1 {
		t.Fatalf("LoadPlan = %v, %v", got, err)
	}
}
