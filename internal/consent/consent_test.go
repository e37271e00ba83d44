package consent

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
	t0       = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
)

// fakeTenants answers Details from a map of tenant id → info or error.
type fakeTenants struct {
	info  map[string]tenant.TenantInfo
	err   map[string]error
	calls int
}

func (f *fakeTenants) Details(_ context.Context, _ tenant.Customer, id string) (tenant.TenantInfo, error) {
	f.calls++
	if err := f.err[id]; err != nil {
		return tenant.TenantInfo{}, err
	}
	info, ok := f.info[id]
	if !ok {
		return tenant.TenantInfo{}, fmt.Errorf("tenant %s: %w", id, ErrConsentRevoked)
	}
	return info, nil
}

type fixture struct {
	store   *state.Store
	svc     *Service
	tenants *fakeTenants
	now     *time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	f := &fixture{now: &now, tenants: &fakeTenants{info: map[string]tenant.TenantInfo{
		"tenant-oak": {DisplayName: "Oak School", VerifiedDomains: []string{"oak.example"}, SKUs: []string{"M365EDU_A3_FACULTY"}, Education: true},
		"tenant-elm": {DisplayName: "Elm School", VerifiedDomains: []string{"elm.example"}, SKUs: []string{}},
	}}}
	clock := func() time.Time { return *f.now }
	f.store = state.NewStore(b, clock)
	f.svc = New(f.store, f.tenants, func(context.Context) ([]byte, error) { return testKey, nil },
		Settings{ClientID: "app-id", RedirectURI: "https://func.example/api/consent/callback", ReturnURL: "https://ui.example/onboarding"}, clock, nil)
	for _, id := range []string{"oak", "elm"} {
		if err := f.store.PutCustomer(t.Context(), tenant.Customer{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// start returns the state of a fresh consent URL for customer.
func (f *fixture) start(t *testing.T, customer string) string {
	t.Helper()
	u, _, err := f.svc.Start(t.Context(), customer)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := parsed.Query()
	if parsed.Host != "login.microsoftonline.com" || parsed.Path != "/organizations/v2.0/adminconsent" ||
		q.Get("client_id") != "app-id" || q.Get("scope") != "https://graph.microsoft.com/.default" ||
		q.Get("redirect_uri") != "https://func.example/api/consent/callback" || q.Get("state") == "" {
		t.Fatalf("consent URL %s lacks the documented parameters", u)
	}
	return q.Get("state")
}

func TestVerifyState(t *testing.T) {
	good, err := Sign(testKey, Claims{Customer: "oak", Nonce: "n1", Expires: t0.Add(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, _ := strings.Cut(good, ".")
	otherCustomer := b64.EncodeToString([]byte(`{"c":"elm","n":"n1","e":` + fmt.Sprint(t0.Add(30*time.Minute).Unix()) + `}`))
	signedElsewhere, _ := Sign(otherKey, Claims{Customer: "oak", Nonce: "n1", Expires: t0.Add(30 * time.Minute)})
	tests := []struct {
		name  string
		state string
		at    time.Time
		want  error
	}{
		{"valid", good, t0, nil},
		{"valid until the last second", good, t0.Add(30*time.Minute - time.Second), nil},
		{"expired", good, t0.Add(30 * time.Minute), ErrStateExpired},
		{"another customer's name under this signature", otherCustomer + "." + sig, t0, ErrStateForged},
		{"signed with another key", signedElsewhere, t0, ErrStateForged},
		{"signature cut short", payload + "." + sig[:10], t0, ErrStateForged},
		{"no signature", payload, t0, ErrStateMalformed},
		{"garbage", "not-a-state", t0, ErrStateMalformed},
		{"empty", "", t0, ErrStateMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Verify(testKey, tc.state, tc.at)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if tc.want == nil && (c.Customer != "oak" || c.Nonce != "n1") {
				t.Errorf("claims = %+v", c)
			}
		})
	}
}

// The callback through the store: each state is used once, by its own
// customer, before it expires; refusals are recorded and write nothing.
func TestCallbackStates(t *testing.T) {
	tests := []struct {
		name string
		// state builds the state to present (after any earlier use).
		state        func(t *testing.T, f *fixture) string
		query        url.Values
		wantCustomer string
		wantOutcome  string
		wantReason   string
	}{
		{name: "valid", state: func(t *testing.T, f *fixture) string { return f.start(t, "oak") },
			query: url.Values{"tenant": {"tenant-oak"}, "admin_consent": {"True"}}, wantCustomer: "oak", wantOutcome: OutcomeConnected},
		{name: "forged", state: func(t *testing.T, f *fixture) string {
			s, _ := Sign(otherKey, Claims{Customer: "oak", Nonce: "n1", Expires: t0.Add(time.Hour)})
			return s
		}, query: url.Values{"tenant": {"tenant-oak"}, "admin_consent": {"True"}}, wantOutcome: OutcomeError, wantReason: "state-forged"},
		{name: "expired", state: func(t *testing.T, f *fixture) string {
			s := f.start(t, "oak")
			*f.now = f.now.Add(31 * time.Minute)
			return s
		}, query: url.Values{"tenant": {"tenant-oak"}, "admin_consent": {"True"}}, wantCustomer: "oak", wantOutcome: OutcomeError, wantReason: "state-expired"},
		{name: "replayed", state: func(t *testing.T, f *fixture) string {
			s := f.start(t, "oak")
			if loc := f.svc.Callback(t.Context(), url.Values{"state": {s}, "error": {"access_denied"}}); !strings.Contains(loc, "outcome=denied") {
				t.Fatalf("first use = %s", loc)
			}
			return s
		}, query: url.Values{"tenant": {"tenant-oak"}, "admin_consent": {"True"}}, wantCustomer: "oak", wantOutcome: OutcomeError, wantReason: "state-replayed"},
		{name: "signed for a customer its nonce was not issued to", state: func(t *testing.T, f *fixture) string {
			s := f.start(t, "elm")
			c, err := Verify(testKey, s, *f.now)
			if err != nil {
				t.Fatal(err)
			}
			c.Customer = "oak"
			forged, _ := Sign(testKey, c)
			return forged
		}, query: url.Values{"tenant": {"tenant-oak"}, "admin_consent": {"True"}}, wantCustomer: "oak", wantOutcome: OutcomeError, wantReason: "state-other-customer"},
		{name: "never issued", state: func(t *testing.T, f *fixture) string {
			s, _ := Sign(testKey, Claims{Customer: "oak", Nonce: "n-unknown", Expires: t0.Add(time.Hour)})
			return s
		}, query: url.Values{"tenant": {"tenant-oak"}, "admin_consent": {"True"}}, wantCustomer: "oak", wantOutcome: OutcomeError, wantReason: "state-unknown"},
		{name: "missing state", state: func(t *testing.T, f *fixture) string { return "" },
			query: url.Values{"tenant": {"tenant-oak"}, "admin_consent": {"True"}}, wantOutcome: OutcomeError, wantReason: "state-missing"},
		{name: "admin declined", state: func(t *testing.T, f *fixture) string { return f.start(t, "oak") },
			query: url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: User declined to consent"}, "admin_consent": {"True"}}, wantCustomer: "oak", wantOutcome: OutcomeDenied, wantReason: "access_denied"},
		{name: "other error", state: func(t *testing.T, f *fixture) string { return f.start(t, "oak") },
			query: url.Values{"error": {"invalid_request"}}, wantCustomer: "oak", wantOutcome: OutcomeError, wantReason: "invalid_request"},
		{name: "missing tenant", state: func(t *testing.T, f *fixture) string { return f.start(t, "oak") },
			query: url.Values{"admin_consent": {"True"}}, wantCustomer: "oak", wantOutcome: OutcomeError, wantReason: "tenant-missing"},
		{name: "tenant refuses a token", state: func(t *testing.T, f *fixture) string { return f.start(t, "oak") },
			query: url.Values{"tenant": {"tenant-unknown"}, "admin_consent": {"True"}}, wantCustomer: "oak", wantOutcome: OutcomeError, wantReason: "token-refused"},
		{name: "tenant already bound to another customer", state: func(t *testing.T, f *fixture) string {
			if loc := f.svc.Callback(t.Context(), url.Values{"state": {f.start(t, "elm")}, "tenant": {"tenant-oak"}, "admin_consent": {"True"}}); !strings.Contains(loc, "outcome=connected") {
				t.Fatalf("elm's consent = %s", loc)
			}
			return f.start(t, "oak")
		}, query: url.Values{"tenant": {"tenant-oak"}, "admin_consent": {"True"}}, wantCustomer: "oak", wantOutcome: OutcomeError, wantReason: "tenant-taken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			q := url.Values{"state": {tc.state(t, f)}}
			for k, v := range tc.query {
				q[k] = v
			}
			before, _ := f.store.ConsentEvents(t.Context(), 0)
			loc := f.svc.Callback(t.Context(), q)
			u, err := url.Parse(loc)
			if err != nil || !strings.HasPrefix(loc, "https://ui.example/onboarding?") {
				t.Fatalf("redirect %q: not the vendor UI", loc)
			}
			got := u.Query()
			if got.Get("customer") != tc.wantCustomer || got.Get("outcome") != tc.wantOutcome || got.Get("reason") != tc.wantReason {
				t.Fatalf("redirect %s, want customer=%q outcome=%q reason=%q", loc, tc.wantCustomer, tc.wantOutcome, tc.wantReason)
			}
			if strings.Contains(loc, q.Get("state")) && q.Get("state") != "" {
				t.Errorf("the redirect carries the state")
			}
			oak, err := f.store.GetCustomer(t.Context(), "oak")
			if err != nil {
				t.Fatal(err)
			}
			after, _ := f.store.ConsentEvents(t.Context(), 0)
			if tc.wantOutcome == OutcomeConnected {
				if oak.TenantID != "tenant-oak" || oak.Status != tenant.StatusConnected || oak.Tenant == nil ||
					oak.Tenant.DisplayName != "Oak School" || !oak.Education || oak.ConsentedAt.IsZero() {
					t.Errorf("customer after consent = %+v, want tenant-oak connected with its details", oak)
				}
				return
			}
			if oak.TenantID != "" || oak.Status != "" || oak.Tenant != nil {
				t.Errorf("a refused callback wrote to the customer: %+v", oak)
			}
			if len(after) != len(before)+1 || after[0].Reason == "" {
				t.Fatalf("audit rows %d → %d, want one more recording the refusal", len(before), len(after))
			}
			for _, ev := range after {
				if q.Get("state") != "" && strings.Contains(ev.Detail+ev.Reason, q.Get("state")) {
					t.Errorf("an audit row holds the state value: %+v", ev)
				}
			}
		})
	}
}

func TestCheckRecordsRevokedConsentOnce(t *testing.T) {
	f := newFixture(t)
	if loc := f.svc.Callback(t.Context(), url.Values{"state": {f.start(t, "oak")}, "tenant": {"tenant-oak"}, "admin_consent": {"True"}}); !strings.Contains(loc, "outcome=connected") {
		t.Fatalf("consent = %s", loc)
	}
	if _, err := f.svc.Check(t.Context(), "elm"); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("check of a customer without a tenant = %v, want ErrNoTenant", err)
	}
	delete(f.tenants.info, "tenant-oak") // the school removed the app
	c, err := f.svc.Check(t.Context(), "oak")
	if err != nil || c.Status != tenant.StatusConsentRevoked || c.Tenant == nil || c.Tenant.DisplayName != "Oak School" {
		t.Fatalf("check after revocation = %+v, %v; want consent_revoked, last details kept", c, err)
	}
	stored, _ := f.store.GetCustomer(t.Context(), "oak")
	if stored.Status != tenant.StatusConsentRevoked || stored.TenantID != "tenant-oak" {
		t.Errorf("stored = %+v", stored)
	}
	f.tenants.info["tenant-oak"] = tenant.TenantInfo{DisplayName: "Oak School", VerifiedDomains: []string{"oak.example", "new.example"}}
	if c, err := f.svc.Check(t.Context(), "oak"); err != nil || c.Status != tenant.StatusConnected || len(c.Tenant.VerifiedDomains) != 2 {
		t.Fatalf("check after re-consent = %+v, %v", c, err)
	}
}
