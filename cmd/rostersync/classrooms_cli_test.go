package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// syncCmd runs `rostersync sync` with args and returns its JSON result,
// its stderr and its error.
func syncCmd(t *testing.T, args ...string) (syncSummary, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"sync", "--root", "../..", "--json"}, args...), testEnv(&out, &errOut))
	var sum syncSummary
	if out.Len() > 0 {
		if jerr := json.Unmarshal(out.Bytes(), &sum); jerr != nil {
			t.Fatalf("stdout is not the JSON result: %v\n%s", jerr, out.String())
		}
	}
	return sum, errOut.String(), err
}

// refusal is a run error's reason, without the pipeline's "run R entity E
// step N: " before it.
func refusal(e string) string {
	if i := strings.Index(e, "classrooms refused"); i >= 0 {
		return e[i:]
	}
	return e
}

// On a business tenant (sync --edition business) users sync and
// classrooms end with one refusal, exit status 1; the finding is kept on
// the customer, so the next run refuses with the same reason; the edition
// of an existing tenant cannot be changed by a flag.
func TestSyncClassroomsOnBusinessEdition(t *testing.T) {
	feed := sampleFeed(t, "12")
	dir := t.TempDir()
	sum, stderr, err := syncCmd(t, "--roster", feed, "--state", dir, "--entities", "users,classrooms", "--edition", "business", "--time-scale", "600")
	if exitStatusOf(err) != exitFailed || sum.Status != string(runs.StatusPartial) {
		t.Fatalf("sync on a business tenant = %v (exit %d), status %q; want a partial run (users done, classrooms refused), exit 1\n%s", err, exitStatusOf(err), sum.Status, stderr)
	}
	if sum.Entities[tenant.EntityUsers].Creates == 0 || !strings.HasPrefix(refusal(sum.Error), "classrooms refused: not an education tenant: tenant sim-school") {
		t.Fatalf("users %+v, error %q; want users created and classrooms refused", sum.Entities[tenant.EntityUsers], sum.Error)
	}
	again, _, err := syncCmd(t, "--roster", feed, "--state", dir, "--entities", "users,classrooms", "--time-scale", "600")
	if exitStatusOf(err) != exitFailed || refusal(again.Error) != refusal(sum.Error) {
		t.Errorf("second run: exit %d, error %q; want the same refusal %q", exitStatusOf(err), again.Error, sum.Error)
	}
	b, err := embedded.Open(filepath.Join(dir, storeDir))
	if err != nil {
		t.Fatal(err)
	}
	c, err := state.NewStore(b, nil).GetCustomer(context.Background(), syncCustomer)
	b.Close()
	if err != nil || c.Education || c.Tenant == nil || c.Tenant.EducationRefusal == "" {
		t.Errorf("customer = %+v, %v; want the refusal recorded", c, err)
	}

	_, _, err = syncCmd(t, "--roster", feed, "--state", dir, "--entities", "users,classrooms", "--edition", "education")
	if exitStatusOf(err) != exitUsage || !strings.Contains(err.Error(), "business tenant") {
		t.Errorf("--edition education on the business tenant = %v; want a usage error naming its edition", err)
	}
	for _, args := range [][]string{{"--edition", "school"}, {"--edition", "business", "--graph-url", "http://127.0.0.1:1"}} {
		_, _, err := syncCmd(t, append([]string{"--roster", feed, "--state", t.TempDir()}, args...)...)
		if exitStatusOf(err) != exitUsage {
			t.Errorf("sync %v = %v; want a usage error", args, err)
		}
	}
}

// After an education sync of users and classrooms, links --entity
// classrooms lists each class with its group, and tenant export shows the
// classes with their teams, teachers as owners and pupils as members.
func TestSyncClassroomsLinksAndExport(t *testing.T) {
	feed := sampleFeed(t, "12")
	dir := t.TempDir()
	sum, stderr, err := syncCmd(t, "--roster", feed, "--state", dir, "--entities", "users,classrooms", "--time-scale", "600")
	if err != nil || sum.Entities[tenant.EntityClassrooms].Creates == 0 {
		t.Fatalf("sync = %v, %+v\n%s", err, sum, stderr)
	}

	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"links", "--state", dir, "--entity", "classrooms", "--json"}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("links: %v %s", err, errOut.String())
	}
	var links []handlers.Link
	if err := json.Unmarshal(out.Bytes(), &links); err != nil || len(links) != sum.Entities[tenant.EntityClassrooms].Creates {
		t.Fatalf("links = %d (%v), want the %d classes created", len(links), err, sum.Entities[tenant.EntityClassrooms].Creates)
	}

	out.Reset()
	if err := run(context.Background(), []string{"tenant", "export", "--state", dir}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("tenant export: %v", err)
	}
	st, err := graphsim.DecodeState(&out)
	if err != nil || len(st.Tenants) != 1 {
		t.Fatalf("export: %v", err)
	}
	groups := map[string]map[string]any{}
	for _, g := range st.Tenants[0].Groups {
		groups[g["id"].(string)] = g
	}
	teams := 0
	for _, l := range links {
		g := groups[l.ObjectID]
		if l.Entity != tenant.EntityClassrooms || g == nil || g["educationClass"] == nil {
			t.Errorf("link %+v: no education class %s in the export", l, l.ObjectID)
			continue
		}
		team, _ := g["team"].(map[string]any)
		owners, _ := g["owners"].([]any)
		members, _ := g["members"].([]any)
		if team != nil {
			teams++
			if _, ok := team["isArchived"]; !ok {
				t.Errorf("class %s: the team's archived flag is not exported: %v", l.ObjectID, team)
			}
			if len(owners) == 0 || len(members) <= len(owners) {
				t.Errorf("class %s: %d owners, %d members; want its teachers and pupils", l.ObjectID, len(owners), len(members))
			}
		}
	}
	if teams == 0 {
		t.Error("no class in the export has its team")
	}
}
