// Package blobtest gives tests a Blob Storage account: Azurite's blob
// service, started by `make test` (scripts/azurite.sh), which exports its
// connection string as ROSTERSYNC_TEST_BLOBS.
package blobtest

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/state/blobstore"
)

// Env is the variable holding the test account's connection string.
const Env = "ROSTERSYNC_TEST_BLOBS"

// ConnectionString returns the blob account the tests use. Without it
// the tests skip locally but fail in CI (or with
// ROSTERSYNC_REQUIRE_AZURITE=1), where skipping would hide that they never
// ran.
func ConnectionString(t testing.TB) string {
	t.Helper()
	if cs := os.Getenv(Env); cs != "" {
		return cs
	}
	const how = Env + " is not set: run `make test` (it starts Azurite), or " +
		"`scripts/azurite.sh run go test ./internal/state/... ./internal/reconcile/...`"
	if os.Getenv("CI") != "" || os.Getenv("ROSTERSYNC_REQUIRE_AZURITE") == "1" {
		t.Fatal(how + " (CI or ROSTERSYNC_REQUIRE_AZURITE=1 is set, so the Blob Storage tests must run)")
	}
	t.Skip(how)
	return ""
}

// Account opens the test account.
func Account(t testing.TB) *blobstore.Account {
	t.Helper()
	a, err := blobstore.FromConnectionString(ConnectionString(t))
	if err != nil {
		t.Fatalf("blobstore.FromConnectionString: %v", err)
	}
	return a
}

// Container returns a fresh container name with the given start, so that
// tests sharing one Azurite never see each other's blobs, and deletes the
// container when the test ends.
func Container(t testing.TB, a *blobstore.Account, start string) string {
	t.Helper()
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	name := []byte(start + "-")
	for range 10 {
		name = append(name, alnum[rand.IntN(len(alnum))])
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.DeleteContainer(ctx, string(name)); err != nil {
			t.Errorf("delete test container: %v", err)
		}
	})
	return string(name)
}
