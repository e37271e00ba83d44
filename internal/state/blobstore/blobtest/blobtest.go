// Package blobtest gives tests Azurite's accounts: its blob and table
// services, started by `make test` (scripts/azurite.sh), which exports
// their connection strings as ROSTERSYNC_TEST_BLOBS and
// ROSTERSYNC_TEST_TABLES.
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

// TablesEnv is the variable holding Azurite's table service connection
// string, which scripts/azurite.sh exports beside Env.
const TablesEnv = "ROSTERSYNC_TEST_TABLES"

// ConnectionString returns the blob account the tests use.
func ConnectionString(t testing.TB) string {
	t.Helper()
	return Azurite(t, Env, "Blob Storage")
}

// TablesConnectionString returns the Table Storage account the tests use.
func TablesConnectionString(t testing.TB) string {
	t.Helper()
	return Azurite(t, TablesEnv, "Table Storage")
}

// Azurite returns the connection string in env, for the tests of service.
// Without it the tests skip locally but fail in CI (or with
// ROSTERSYNC_REQUIRE_AZURITE=1), where skipping would hide that they never
// ran.
func Azurite(t testing.TB, env, service string) string {
	t.Helper()
	if cs := os.Getenv(env); cs != "" {
		return cs
	}
	how := env + " is not set: run `make test` (it starts Azurite), or " +
		"`scripts/azurite.sh run go test ./internal/state/... ./internal/reconcile/...`"
	if os.Getenv("CI") != "" || os.Getenv("ROSTERSYNC_REQUIRE_AZURITE") == "1" {
		t.Fatal(how + " (CI or ROSTERSYNC_REQUIRE_AZURITE=1 is set, so the " + service + " tests must run)")
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
