package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/lifecycle"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

// TestDevRemoveConfigurationAndReconnect: with `rostersync dev`, a run of
// a large school is started and the configuration removed before it
// completes: the run ends cancelled, the tenant gets no more writes, no
// new run is accepted; a new admin consent reconnects the customer and the
// next run finishes the school on the links kept, creating nobody twice.
func TestDevRemoveConfigurationAndReconnect(t *testing.T) {
	state := t.TempDir()
	d, _ := startDev(t, state, map[string]string{"ConsentReturnUrl": "https://vendor.example/onboarding"})
	year := time.Now().Year()
	if time.Now().Month() < time.September {
		year--
	}
	const students, staff = 1200, 40
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"sample", "--out", filepath.Join(state, "feeds", "oakfield", "big"), "--students", strconv.Itoa(students),
		"--staff", strconv.Itoa(staff), "--year", strconv.Itoa(year)}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("sample: %v %s", err, errOut.String())
	}
	tenantUsers := func() int {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"tenant", "export", "--state", state}, testEnv(&out, &errOut)); err != nil {
			t.Fatalf("tenant export: %v %s", err, errOut.String())
		}
		st, err := graphsim.DecodeState(&out)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range st.Tenants {
			if tn.ID == "sim-oakfield" {
				return len(tn.Users)
			}
		}
		return 0
	}
	d.do("PUT", "/api/customers/oakfield", `{"name":"Oakfield Academy","tenantId":"sim-oakfield","domains":["oakfield.example"],"features":{"users":true}}`, http.StatusOK)
	d.do("PUT", "/api/customers/oakfield/profiles/nightly", `{"name":"Nightly","enabled":true,"runAt":"02:00","timeZone":"Europe/London","entities":["users"],"source":{"kind":"csv","path":"big"}}`, http.StatusOK)
	var first runs.Run
	if err := json.Unmarshal(d.do("POST", "/api/customers/oakfield/profiles/nightly/runs", "", http.StatusAccepted), &first); err != nil {
		t.Fatal(err)
	}
	// Remove it mid-run: once the tenant has some of the school.
	for deadline := time.Now().Add(30 * time.Second); tenantUsers() == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	var rem lifecycle.Removal
	if err := json.Unmarshal(d.do("DELETE", "/api/customers/oakfield/configuration", "", http.StatusOK), &rem); err != nil {
		t.Fatal(err)
	}
	if rem.RemoveApp.URL == "" || rem.Status != string(tenant.StatusDisconnected) {
		t.Errorf("removal answer %+v", rem)
	}
	first = d.waitRun(first.ID, runs.StatusCancelled)
	if first.Entities[0].Status != runs.StatusCancelled {
		t.Errorf("users of the removed run = %s, want cancelled", first.Entities[0].Status)
	}
	// The simulator saves its tenants to the state folder a moment
	// after a write: read what it holds once that has settled.
	time.Sleep(time.Second)
	written := tenantUsers()
	if written >= students+staff {
		t.Fatalf("the whole school (%d) was written before the removal took effect; the test needs a larger school", written)
	}
	time.Sleep(2 * time.Second)
	if again := tenantUsers(); again != written {
		t.Fatalf("the tenant got writes after the run was cancelled: %d users, then %d", written, again)
	}
	d.do("POST", "/api/customers/oakfield/profiles/nightly/runs", "", http.StatusConflict)

	// Reconnect: a new admin consent, as Microsoft returns it.
	var started struct{ URL string }
	if err := json.Unmarshal(d.do("POST", "/api/customers/oakfield/consent", "", http.StatusOK), &started); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(started.URL)
	if err != nil {
		t.Fatal(err)
	}
	back := "/api/consent/callback?" + url.Values{"state": {u.Query().Get("state")}, "tenant": {"sim-oakfield"}, "admin_consent": {"True"}}.Encode()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(d.base + back)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "https://vendor.example/onboarding?customer=oakfield&outcome=connected" {
		t.Fatalf("reconnect: callback sent the browser to %q", loc)
	}
	var c tenant.Customer
	if err := json.Unmarshal(d.do("GET", "/api/customers/oakfield", "", http.StatusOK), &c); err != nil {
		t.Fatal(err)
	}
	if c.Disconnected || c.Status != tenant.StatusConnected {
		t.Fatalf("customer after reconnecting = %+v", c)
	}
	var second runs.Run
	if err := json.Unmarshal(d.do("POST", "/api/customers/oakfield/profiles/nightly/runs", "", http.StatusAccepted), &second); err != nil {
		t.Fatal(err)
	}
	second = d.waitRun(second.ID, runs.StatusSucceeded)
	t.Logf("written before the removal: %d; reconnected run's counts: %v", written, second.Counts)
	// Those linked before the removal are not created again: the tenant
	// holds them plus exactly this run's creates.
	if n := tenantUsers(); n != written+second.Counts["applied.create"] || second.Counts["applied.create"] == 0 {
		t.Errorf("tenant after the reconnected run holds %d users, want the %d written before plus %d created: each person once", n, written, second.Counts["applied.create"])
	}
}
