package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

func testEnv(stdout, stderr *bytes.Buffer) environment {
	return environment{getenv: func(string) string { return "" }, stdout: stdout, stderr: stderr}
}

// sampleFeed writes a small generated school and returns its folder.
func sampleFeed(t *testing.T, students string) string {
	t.Helper()
	feed := filepath.Join(t.TempDir(), "feed")
	year := time.Now().Year()
	if time.Now().Month() < time.September {
		year-- // the academic year started last September
	}
	var out, errOut bytes.Buffer
	args := []string{"sample", "--out", feed, "--students", students, "--staff", "4", "--year", strconv.Itoa(year)}
	if err := run(context.Background(), args, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("sample: %v %s", err, errOut.String())
	}
	return feed
}

// TestKilledSyncKeepsTenantWrites: a sync that dies after its writes were
// answered (no close, no save) leaves them in the tenant, as Microsoft 365
// would. The crash image is the state folder's files as they are while the
// world is still running, before any shutdown step.
func TestKilledSyncKeepsTenantWrites(t *testing.T) {
	ctx := context.Background()
	feed := sampleFeed(t, "12")
	dir := t.TempDir()
	w, err := openWorld(ctx, worldOptions{dir: dir, tenantID: "sim-school", domain: "school.example", timeScale: 60,
		root: "../..", feedDir: filepath.Dir(feed)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	sum, err := w.syncOnce(ctx, feed, runs.ModeApply, []string{tenant.EntityUsers})
	if err != nil || sum.Creates == 0 {
		t.Fatalf("syncOnce = %+v, %v; want creates", sum, err)
	}
	live, _ := w.sim.Embedded().ExportTenant("sim-school")

	crashed := t.TempDir()
	for _, name := range []string{simTenantFile, simTenantFile + graphsim.WriteLogSuffix} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crashed, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w2, err := openWorld(ctx, worldOptions{dir: crashed, tenantID: "sim-school", domain: "school.example", timeScale: 60,
		root: "../..", feedDir: filepath.Dir(feed)})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.close()
	after, _ := w2.sim.Embedded().ExportTenant("sim-school")
	if len(after.Users) != len(live.Users) || len(after.Users) < sum.Creates {
		t.Errorf("tenant after a kill has %d users, want the %d the live tenant had (%d created)", len(after.Users), len(live.Users), sum.Creates)
	}
}

// TestSyncAgainstStandaloneSimulator: sync --graph-url writes into a
// running simulator (adding the tenant there), not into --state, and
// tenant export --from reads it back.
func TestSyncAgainstStandaloneSimulator(t *testing.T) {
	feed := sampleFeed(t, "10")
	sim := graphsim.New(graphsim.Options{TimeScale: 60})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"sync", "--roster", feed, "--state", dir, "--root", "../..", "--json",
		"--graph-url", srv.URL, "--tenant", "standalone-school", "--domain", "standalone.example"}, testEnv(&out, &errOut))
	if err != nil {
		t.Fatalf("sync --graph-url: %v\nstderr: %s", err, errOut.String())
	}
	var sum syncSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not the JSON result: %v\n%s", err, out.String())
	}
	ts, ok := sim.ExportTenant("standalone-school")
	if !ok || sum.Creates == 0 || len(ts.Users) != sum.Creates || sum.Graph.Requests == 0 || sum.Graph.Writes == 0 {
		t.Fatalf("standalone tenant has %d users (found %v); summary %+v", len(ts.Users), ok, sum)
	}
	if _, err := os.Stat(filepath.Join(dir, simTenantFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sync --graph-url kept a tenant in --state too (%v)", err)
	}

	out.Reset()
	if err := run(context.Background(), []string{"tenant", "export", "--from", srv.URL, "--tenant", "standalone-school"}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("tenant export --from: %v", err)
	}
	st, err := graphsim.DecodeState(&out)
	if err != nil || len(st.Tenants) != 1 || len(st.Tenants[0].Users) != sum.Creates {
		t.Errorf("tenant export --from = %d tenants, %v", len(st.Tenants), err)
	}
	for _, d := range st.Tenants[0].Domains {
		if d.ID == "standalone.example" && d.IsDefault {
			return
		}
	}
	t.Errorf("exported tenant domains %+v lack standalone.example", st.Tenants[0].Domains)
}

// TestTenantExportState reads a sync's folder, write log included.
func TestTenantExportState(t *testing.T) {
	feed := sampleFeed(t, "8")
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"sync", "--roster", feed, "--state", dir, "--root", "../..", "--json"}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("sync: %v %s", err, errOut.String())
	}
	var sum syncSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"tenant", "export", "--state", dir}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("tenant export --state: %v", err)
	}
	st, err := graphsim.DecodeState(&out)
	if err != nil || len(st.Tenants) != 1 || len(st.Tenants[0].Users) != sum.Creates {
		t.Errorf("tenant export --state = %+v, %v; want %d users", st, err, sum.Creates)
	}
	for _, args := range [][]string{{"tenant", "export"}, {"tenant", "export", "--state", dir, "--from", "http://127.0.0.1:1"}, {"tenant", "list"}} {
		if got := exitStatusOf(run(context.Background(), args, testEnv(&out, &errOut))); got != exitUsage {
			t.Errorf("%q exit status = %d, want %d", args, got, exitUsage)
		}
	}
}

func TestSyncExitStatus(t *testing.T) {
	tests := []struct {
		status string
		held   bool
		want   exitStatus
	}{
		{string(runs.StatusSucceeded), false, exitOK},
		{string(runs.StatusSucceeded), true, exitHeld},
		{string(runs.StatusHeld), false, exitHeld},
		{string(runs.StatusFailed), false, exitFailed},
		{string(runs.StatusPartial), false, exitFailed},
		{string(runs.StatusSkipped), false, exitFailed},
		{string(runs.StatusRunning), false, exitFailed},
	}
	for _, tt := range tests {
		err := syncSummary{RunID: "r1", Status: tt.status, Held: tt.held}.outcome()
		if got := exitStatusOf(err); got != tt.want {
			t.Errorf("status %s held %v: exit %d (%v), want %d", tt.status, tt.held, got, err, tt.want)
		}
	}
	if got := exitStatusOf(errors.New("context canceled")); got != exitFailed {
		t.Errorf("a plain error exits %d, want %d", got, exitFailed)
	}
}

// TestSyncJSONExitsNonZeroOnFailure: a failed run prints its JSON result
// on stdout, nothing else there, and exits 1; bad flags exit 2.
func TestSyncJSONExitsNonZeroOnFailure(t *testing.T) {
	feed := sampleFeed(t, "8")
	// A feed whose users.csv has a header and no rows cannot be planned.
	b, err := os.ReadFile(filepath.Join(feed, "users.csv"))
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(string(b), "\n")
	if err := os.WriteFile(filepath.Join(feed, "users.csv"), []byte(header+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"sync", "--roster", feed, "--state", t.TempDir(), "--root", "../..", "--json"}, testEnv(&out, &errOut))
	if got := exitStatusOf(err); got != exitFailed {
		t.Fatalf("sync --json of a failing feed: exit %d (%v), want %d; stdout %s", got, err, exitFailed, out.String())
	}
	var sum syncSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not only the JSON result: %v\n%s", err, out.String())
	}
	if sum.Status == string(runs.StatusSucceeded) {
		t.Errorf("summary status = %s", sum.Status)
	}

	err = run(context.Background(), []string{"sync", "--state", t.TempDir()}, testEnv(&out, &errOut))
	if got := exitStatusOf(err); got != exitUsage {
		t.Errorf("sync without --roster: exit %d, want %d", got, exitUsage)
	}
}

// TestSyncHeldExits3: a feed that suspends more than the deletion guard
// allows ends held, and sync says so with exit status 3.
func TestSyncHeldExits3(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	full := sampleFeed(t, "40")
	if err := run(context.Background(), []string{"sync", "--roster", full, "--state", dir, "--root", "../.."}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	out.Reset()
	shrunk := sampleFeed(t, "10")
	err := run(context.Background(), []string{"sync", "--roster", shrunk, "--state", dir, "--root", "../..", "--json"}, testEnv(&out, &errOut))
	var sum syncSummary
	if jerr := json.Unmarshal(out.Bytes(), &sum); jerr != nil {
		t.Fatalf("stdout is not the JSON result: %v\n%s", jerr, out.String())
	}
	if got := exitStatusOf(err); got != exitHeld || !sum.Held {
		t.Errorf("sync of a shrunk feed: exit %d (%v), held %v status %s; want exit %d", got, err, sum.Held, sum.Status, exitHeld)
	}
}
