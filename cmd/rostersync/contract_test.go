package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/runs"
)

// TestSyncFromAnyFolder: sync started in a folder outside the repository,
// with no --root, finds host.json and functions/ at or above the binary
// (here as in a clone: bin/rostersync). On the old code it failed with
// "open host.json: no such file or directory".
func TestSyncFromAnyFolder(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	feed := sampleFeed(t, "8")
	dir := t.TempDir()
	t.Chdir(t.TempDir())
	var out, errOut bytes.Buffer
	env := testEnv(&out, &errOut)
	env.executable = func() (string, error) { return filepath.Join(repo, "bin", "rostersync"), nil }
	if err := run(context.Background(), []string{"sync", "--roster", feed, "--state", dir, "--json"}, env); err != nil {
		t.Fatalf("sync outside the repository: %v\nstderr: %s", err, errOut.String())
	}
	var sum syncSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Status != string(runs.StatusSucceeded) || sum.Creates == 0 {
		t.Fatalf("sync result %+v (%v), want a succeeded run with creates", sum, err)
	}
}

// TestRootNotFoundSaysWhat: with no host files near the binary or the
// working directory, the error names what was looked for and where, and
// a --root without them is a usage error naming the folder.
func TestRootNotFoundSaysWhat(t *testing.T) {
	nowhere := t.TempDir()
	t.Chdir(nowhere)
	env := testEnv(&bytes.Buffer{}, &bytes.Buffer{})
	env.executable = func() (string, error) { return filepath.Join(nowhere, "rostersync"), nil }
	err := run(context.Background(), []string{"sync", "--roster", "feed", "--state", t.TempDir()}, env)
	if err == nil || !strings.Contains(err.Error(), "host.json") || !strings.Contains(err.Error(), "functions") ||
		!strings.Contains(err.Error(), nowhere) || !strings.Contains(err.Error(), "--root") {
		t.Errorf("sync with no host files near = %v, want an error naming host.json, functions, %s and --root", err, nowhere)
	}
	err = run(context.Background(), []string{"sync", "--roster", "feed", "--state", t.TempDir(), "--root", nowhere}, env)
	if exitStatusOf(err) != exitUsage || !strings.Contains(err.Error(), nowhere) || !strings.Contains(err.Error(), "host.json") {
		t.Errorf("sync --root %s = %v, want a usage error naming the folder and host.json", nowhere, err)
	}
}

// TestSyncEntitiesAndLinks: --entities runs the listed kinds in order and
// the JSON result adds each one's figures, keeping the old keys; links
// prints the users' links as the API does, sorted by sourcedId; unknown
// kinds are usage errors (exit 2).
func TestSyncEntitiesAndLinks(t *testing.T) {
	feed := sampleFeed(t, "12")
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	args := []string{"sync", "--roster", feed, "--state", dir, "--root", "../..", "--json", "--entities", "noop, users"}
	if err := run(context.Background(), args, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("sync --entities noop,users: %v\nstderr: %s", err, errOut.String())
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("stdout is not the JSON result: %v\n%s", err, out.String())
	}
	for _, key := range []string{"run", "mode", "status", "creates", "matches", "links", "updates", "suspends", "reactivations", "unsynced", "errors", "graph", "elapsedSeconds", "counts", "entities"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("JSON result lacks %q: %s", key, out.String())
		}
	}
	var sum syncSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	users, noop := sum.Entities["users"], sum.Entities["noop"]
	if users.Status != string(runs.StatusSucceeded) || users.Creates != sum.Creates || users.Creates == 0 || users.Writes < users.Creates || users.Errors != 0 {
		t.Errorf("users figures %+v, want succeeded with the run's %d creates, at least as many writes", users, sum.Creates)
	}
	if noop.Status != string(runs.StatusSucceeded) || noop.Creates != 0 || noop.Writes != 0 {
		t.Errorf("noop figures %+v, want succeeded with nothing", noop)
	}
	if strings.Contains(out.String(), "rostersync sync:") || !strings.Contains(errOut.String(), "rostersync sync:") {
		t.Errorf("progress must go to stderr only:\nstdout: %s\nstderr: %s", out.String(), errOut.String())
	}

	out.Reset()
	if err := run(context.Background(), []string{"links", "--state", dir, "--entity", "users", "--json"}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("links: %v %s", err, errOut.String())
	}
	var links []map[string]string
	if err := json.Unmarshal(out.Bytes(), &links); err != nil {
		t.Fatalf("links --json is not a JSON array: %v\n%s", err, out.String())
	}
	if len(links) != sum.Creates {
		t.Errorf("links = %d, want one per created account (%d)", len(links), sum.Creates)
	}
	ids := make([]string, len(links))
	for i, l := range links {
		ids[i] = l["sourcedId"]
		if l["entity"] != "users" || l["objectId"] == "" || l["how"] != "created" || len(l) != 4 {
			t.Errorf("link %v, want {entity users, sourcedId, objectId, how created}", l)
		}
	}
	if !slices.IsSorted(ids) {
		t.Errorf("links not sorted by sourcedId: %v", ids)
	}
	out.Reset()
	if err := run(context.Background(), []string{"links", "--state", dir, "--entity", "noop", "--json"}, testEnv(&out, &errOut)); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("links of an entity that links nothing = %q, %v; want []", out.String(), err)
	}

	for _, args := range [][]string{
		{"sync", "--roster", feed, "--state", dir, "--root", "../..", "--entities", "users,pets"},
		{"sync", "--roster", feed, "--state", dir, "--root", "../..", "--entities", "users,users"},
		{"sync", "--roster", feed, "--state", dir, "--root", "../..", "--entities", ""},
		{"links", "--state", dir, "--entity", "pets"},
		{"links", "--entity", "users"},
	} {
		if got := exitStatusOf(run(context.Background(), args, testEnv(&out, &errOut))); got != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, got, exitUsage)
		}
	}
	if err := run(context.Background(), []string{"links", "--state", t.TempDir(), "--entity", "users"}, testEnv(&out, &errOut)); err == nil || exitStatusOf(err) != exitFailed {
		t.Errorf("links of a folder with no store = %v, want a failure", err)
	}
	if _, err := os.Stat(filepath.Join(dir, simTenantFile)); err != nil {
		t.Errorf("sync's tenant is not kept in its state folder: %v", err)
	}
}
