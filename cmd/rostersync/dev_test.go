package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/runs"
)

// devSession drives a running `rostersync dev` over HTTP, as curl does.
type devSession struct {
	t    *testing.T
	base string
}

// do sends one request; a body is sent as JSON, as the API requires.
func (d devSession) do(method, path, body string, want int) []byte {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		d.t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	return b
}

// waitRun reads the run until its status is one of want.
func (d devSession) waitRun(id string, want ...runs.Status) runs.Run {
	d.t.Helper()
	var r runs.Run
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := json.Unmarshal(d.do("GET", "/api/customers/oakfield/runs/"+id, "", http.StatusOK), &r); err != nil {
			d.t.Fatal(err)
		}
		for _, s := range want {
			if r.Status == s {
				return r
			}
		}
		if r.Status.Done() && r.Status != runs.StatusHeld {
			break
		}
	}
	d.t.Fatalf("run %s ended %s (%+v), want %v", id, r.Status, r.Entities, want)
	return r
}

type entityPlanView struct {
	Plan struct {
		Guard struct {
			Held     bool `json:"held"`
			Suspends int  `json:"suspends"`
		} `json:"guard"`
	} `json:"plan"`
	Entries []struct {
		Action string `json:"action"`
		Status string `json:"status"`
	} `json:"entries"`
}

func (v entityPlanView) count(action, status string) int {
	n := 0
	for _, e := range v.Entries {
		if e.Action == action && (status == "" || e.Status == status) {
			n++
		}
	}
	return n
}

// TestDevRunsUsersAgainstTheEmbeddedSimulator starts `rostersync dev` on a
// loopback port and drives the README's local example over HTTP: a
// customer bound to a simulated tenant, a users profile reading a csv feed
// from the customer's folder under the printed CsvRoot, a run that creates
// the accounts in the embedded simulator (kept in the state folder), its
// plan at the per-entity route; then a shrunk feed whose run is held, and
// the confirmation that applies it. On the old code dev registered only
// noop, so the profile's first run failed with unknown entity "users".
func TestDevRunsUsersAgainstTheEmbeddedSimulator(t *testing.T) {
	state := t.TempDir()
	d, stdout := startDev(t, state, nil)
	feeds := filepath.Join(state, "feeds")
	if !strings.Contains(stdout.String(), feeds) {
		t.Errorf("dev does not print its csv root %s:\n%s", feeds, stdout.String())
	}
	// ./bin/rostersync sample --out .state/feeds/oakfield/day1 (and a
	// smaller school for the next day).
	year := time.Now().Year()
	if time.Now().Month() < time.September {
		year--
	}
	for _, f := range []struct{ dir, students string }{{"day1", "40"}, {"day2", "10"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"sample", "--out", filepath.Join(feeds, "oakfield", f.dir), "--students", f.students, "--staff", "4",
			"--year", strconv.Itoa(year)}, testEnv(&out, &errOut)); err != nil {
			t.Fatalf("sample: %v %s", err, errOut.String())
		}
	}

	d.do("PUT", "/api/customers/oakfield", `{"name":"Oakfield Academy","tenantId":"sim-oakfield","domains":["oakfield.example"],"features":{"users":true}}`, http.StatusOK)
	profile := `{"name":"Nightly","enabled":true,"runAt":"02:00","timeZone":"Europe/London","entities":["users"],"source":{"kind":"csv","path":"%s"}}`
	d.do("PUT", "/api/customers/oakfield/profiles/nightly", fmt.Sprintf(profile, "day1"), http.StatusOK)
	var first runs.Run
	if err := json.Unmarshal(d.do("POST", "/api/customers/oakfield/profiles/nightly/runs", "", http.StatusAccepted), &first); err != nil {
		t.Fatal(err)
	}
	first = d.waitRun(first.ID, runs.StatusSucceeded)
	var p1 entityPlanView
	if err := json.Unmarshal(d.do("GET", "/api/customers/oakfield/runs/"+first.ID+"/entities/users/plan", "", http.StatusOK), &p1); err != nil {
		t.Fatal(err)
	}
	creates := p1.count("create", "done")
	if creates < 40 || creates != p1.count("create", "") {
		t.Fatalf("first run's plan has %d creates done of %d, want every pupil created", creates, p1.count("create", ""))
	}
	// The customer's simulated tenant was created on first use, with its
	// domain, and kept in the state folder with its write log.
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"tenant", "export", "--state", state}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("tenant export --state: %v %s", err, errOut.String())
	}
	st, err := graphsim.DecodeState(&out)
	if err != nil || len(st.Tenants) != 1 || st.Tenants[0].ID != "sim-oakfield" || len(st.Tenants[0].Users) != creates {
		t.Fatalf("simulated tenants = %d (%v), want sim-oakfield with %d users", len(st.Tenants), err, creates)
	}
	if st.Tenants[0].Domains[0].ID != "oakfield.example" || !st.Tenants[0].Domains[0].IsDefault {
		t.Errorf("simulated tenant's domains %+v, want oakfield.example the default", st.Tenants[0].Domains)
	}

	// The next day's feed lost most of the school: the guard holds it.
	d.do("PUT", "/api/customers/oakfield/profiles/nightly", fmt.Sprintf(profile, "day2"), http.StatusOK)
	var second runs.Run
	if err := json.Unmarshal(d.do("POST", "/api/customers/oakfield/profiles/nightly/runs", "", http.StatusAccepted), &second); err != nil {
		t.Fatal(err)
	}
	second = d.waitRun(second.ID, runs.StatusHeld)
	if second.Entities[0].Status != runs.StatusHeld {
		t.Errorf("users of the held run = %s, want held", second.Entities[0].Status)
	}
	var p2 entityPlanView
	if err := json.Unmarshal(d.do("GET", "/api/customers/oakfield/runs/"+second.ID+"/entities/users/plan", "", http.StatusOK), &p2); err != nil {
		t.Fatal(err)
	}
	if !p2.Plan.Guard.Held || p2.count("suspend", "done") != 0 {
		t.Fatalf("held plan: guard %+v, %d suspends done; want held and none done", p2.Plan.Guard, p2.count("suspend", "done"))
	}
	d.do("POST", "/api/customers/oakfield/runs/"+second.ID+"/entities/users/confirm", "", http.StatusAccepted)
	d.waitRun(second.ID, runs.StatusSucceeded)
	var p3 entityPlanView
	if err := json.Unmarshal(d.do("GET", "/api/customers/oakfield/runs/"+second.ID+"/entities/users/plan", "", http.StatusOK), &p3); err != nil {
		t.Fatal(err)
	}
	if n := p3.count("suspend", ""); n == 0 || p3.count("suspend", "done") != n {
		t.Errorf("confirmed plan: %d of %d suspends done, want all", p3.count("suspend", "done"), n)
	}
}

// startDev runs `rostersync dev` in state on a free loopback port, with
// extra settings, until the test ends; it returns a session once the API
// answers, and dev's stdout. The timer is left off: tests start their runs
// by hand so it cannot race them (the scheduler is covered elsewhere).
func startDev(t *testing.T, state string, settings map[string]string) (devSession, *syncBuffer) {
	t.Helper()
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "AzureWebJobs.Scheduler.Disabled" {
			return "true"
		}
		return settings[k]
	}
	go func() {
		done <- run(ctx, []string{"dev", "--root", "../..", "--addr", "127.0.0.1:" + port, "--state", state, "--time-scale", "60"},
			environment{getenv: getenv, stdout: &stdout, stderr: &stderr})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev returned %v", err)
		}
	})
	d := devSession{t: t, base: "http://127.0.0.1:" + port}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(d.base + "/api/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev never answered: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
	}
	return d, &stdout
}
