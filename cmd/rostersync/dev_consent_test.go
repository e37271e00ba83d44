package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/tenant"
)

// Admin consent through `rostersync dev`, as a vendor UI and Microsoft
// drive it: the API (behind a function key) hands out the consent URL;
// the browser comes back to the anonymous callback with the state and the
// simulated tenant; the customer then holds the tenant, its domains and
// its edition, and the same state is refused a second time.
func TestDevAdminConsent(t *testing.T) {
	const key = "test-function-key"
	d, _ := startDev(t, t.TempDir(), map[string]string{"ApiKey": key, "ConsentReturnUrl": "https://vendor.example/onboarding"})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(method, path, body string, withKey bool, want int) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, d.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if withKey {
			req.Header.Set("x-functions-key", key)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != want {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		return resp
	}
	call("PUT", "/api/customers/oakfield", `{"name":"Oakfield Academy","domains":["oakfield.example"],"features":{"users":true}}`, true, http.StatusOK)
	call("POST", "/api/customers/oakfield/consent", "", false, http.StatusUnauthorized) // the API keeps its key
	var started struct{ URL string }
	if err := json.NewDecoder(call("POST", "/api/customers/oakfield/consent", "", true, http.StatusOK).Body).Decode(&started); err != nil {
		t.Fatal(err)
	}
	consentURL, err := url.Parse(started.URL)
	if err != nil || !strings.HasSuffix(consentURL.Path, "/organizations/v2.0/adminconsent") {
		t.Fatalf("consent URL %q", started.URL)
	}
	st := consentURL.Query().Get("state")
	redirect, err := url.Parse(consentURL.Query().Get("redirect_uri"))
	if err != nil || redirect.Path != "/api/consent/callback" {
		t.Fatalf("redirect_uri %q", consentURL.Query().Get("redirect_uri"))
	}
	// Microsoft sends the browser back: no function key.
	back := "/api/consent/callback?" + url.Values{"state": {st}, "tenant": {"sim-oakfield"}, "admin_consent": {"True"}}.Encode()
	loc := call("GET", back, "", false, http.StatusFound).Header.Get("Location")
	if loc != "https://vendor.example/onboarding?customer=oakfield&outcome=connected" {
		t.Fatalf("callback sent the browser to %q", loc)
	}
	var c tenant.Customer
	if err := json.NewDecoder(call("GET", "/api/customers/oakfield", "", true, http.StatusOK).Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.TenantID != "sim-oakfield" || c.Status != tenant.StatusConnected || c.Tenant == nil || !c.Education ||
		c.Tenant.DisplayName == "" || strings.Join(c.Tenant.VerifiedDomains, ",") != "oakfield.example,oakfield.onmicrosoft.com" {
		t.Fatalf("customer after consent = %+v (tenant %+v), want sim-oakfield connected, education, with its domains", c, c.Tenant)
	}
	// The same state again: refused, and the customer is unchanged.
	loc = call("GET", back, "", false, http.StatusFound).Header.Get("Location")
	if !strings.Contains(loc, "outcome=error") || !strings.Contains(loc, "reason=state-replayed") {
		t.Fatalf("a replayed state sent the browser to %q", loc)
	}
	// An on-demand check reads the tenant again.
	var checked tenant.Customer
	if err := json.NewDecoder(call("POST", "/api/customers/oakfield/tenant/check", "", true, http.StatusOK).Body).Decode(&checked); err != nil {
		t.Fatal(err)
	}
	if checked.Status != tenant.StatusConnected || checked.Tenant == nil || !checked.Tenant.CheckedAt.After(c.Tenant.CheckedAt.Add(-1)) {
		t.Fatalf("tenant check = %+v", checked)
	}
}
