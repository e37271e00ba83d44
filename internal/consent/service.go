package consent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Store is the state consent reads and writes; *state.Store has it.
type Store interface {
	GetCustomer(ctx context.Context, id string) (tenant.Customer, error)
	PutCustomer(ctx context.Context, c tenant.Customer) error
	PutConsentNonce(ctx context.Context, n state.ConsentNonce) error
	ConsumeConsentNonce(ctx context.Context, customerID, nonce string) (state.ConsentNonce, error)
	RecordConsentEvent(ctx context.Context, ev state.ConsentEvent) error
}

var _ Store = (*state.Store)(nil)

// Tenants reads a tenant through the app's Graph client for it, which
// acquires a token in that tenant: the documented way to confirm the
// tenant a callback names (graph.md §8). A refused token wraps
// ErrConsentRevoked.
type Tenants interface {
	Details(ctx context.Context, c tenant.Customer, tenantID string) (tenant.TenantInfo, error)
}

// ErrConsentRevoked is wrapped by Tenants when the tenant refuses the app.
var ErrConsentRevoked = errors.New("consent revoked")

// ErrNotConfigured: a setting consent needs is empty (the error names it).
var ErrNotConfigured = errors.New("admin consent is not configured")

// ErrNoTenant: a tenant check of a customer with no tenant bound.
var ErrNoTenant = errors.New("customer has no tenant: admin consent has not been given")

// Settings are the deployment's consent settings.
type Settings struct {
	ClientID    string // the multi-tenant app's client id
	RedirectURI string // this deployment's /api/consent/callback, as registered
	ReturnURL   string // the vendor UI page the browser is sent back to
	TTL         time.Duration
	// Authority is the identity platform's root; empty is
	// https://login.microsoftonline.com.
	Authority string
}

// Outcomes the vendor UI is told.
const (
	OutcomeConnected = "connected"
	OutcomeDenied    = "denied"
	OutcomeError     = "error"
)

// Service runs admin consent and tenant checks.
type Service struct {
	store   Store
	tenants Tenants
	key     func(ctx context.Context) ([]byte, error)
	set     Settings
	now     func() time.Time
	log     *slog.Logger
}

// New builds the service; key returns the state-signing key (from the
// secret source), now the clock.
func New(store Store, tenants Tenants, key func(ctx context.Context) ([]byte, error), set Settings, now func() time.Time, log *slog.Logger) *Service {
	if set.TTL <= 0 {
		set.TTL = 30 * time.Minute
	}
	if set.Authority == "" {
		set.Authority = "https://login.microsoftonline.com"
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, tenants: tenants, key: key, set: set, now: now, log: log}
}

// Start issues a consent URL for the customer: the v2 admin-consent
// endpoint of the organizations authority with the app's client id, the
// .default scope, the registered redirect URI and a fresh state.
func (s *Service) Start(ctx context.Context, customerID string) (string, time.Time, error) {
	for name, v := range map[string]string{"GraphAppClientId": s.set.ClientID, "ConsentRedirectUri": s.set.RedirectURI, "ConsentReturnUrl": s.set.ReturnURL} {
		if v == "" {
			return "", time.Time{}, fmt.Errorf("%w: setting %s is empty", ErrNotConfigured, name)
		}
	}
	if _, err := s.store.GetCustomer(ctx, customerID); err != nil {
		return "", time.Time{}, err
	}
	key, err := s.key(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", time.Time{}, err
	}
	now := s.now().UTC()
	c := Claims{Customer: customerID, Nonce: hex.EncodeToString(raw[:]), Expires: now.Add(s.set.TTL).Truncate(time.Second)}
	st, err := Sign(key, c)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %v", ErrNotConfigured, err)
	}
	if err := s.store.PutConsentNonce(ctx, state.ConsentNonce{Nonce: c.Nonce, CustomerID: customerID, IssuedAt: now, Expires: c.Expires}); err != nil {
		return "", time.Time{}, err
	}
	q := url.Values{}
	q.Set("client_id", s.set.ClientID)
	q.Set("scope", "https://graph.microsoft.com/.default")
	q.Set("redirect_uri", s.set.RedirectURI)
	q.Set("state", st)
	u := strings.TrimRight(s.set.Authority, "/") + "/organizations/v2.0/adminconsent?" + q.Encode()
	s.log.InfoContext(ctx, "admin consent started", "customer", customerID, "expires", c.Expires)
	return u, c.Expires, nil
}

// tenantIDPattern is what a tenant id from the callback may look like: a
// GUID, or a simulated tenant's name locally.
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$`)

// errorCodePattern keeps the identity platform's error code printable.
var errorCodePattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// Callback handles the identity platform's redirect (its query q) and
// returns where to send the browser: the vendor UI with the customer, the
// outcome and a reason code. A refused callback is recorded (reason, never
// the state) and writes nothing to any customer.
func (s *Service) Callback(ctx context.Context, q url.Values) string {
	customer, outcome, reason := s.callback(ctx, q)
	v := url.Values{}
	if customer != "" {
		v.Set("customer", customer)
	}
	v.Set("outcome", outcome)
	if reason != "" {
		v.Set("reason", reason)
	}
	sep := "?"
	if strings.Contains(s.set.ReturnURL, "?") {
		sep = "&"
	}
	return s.set.ReturnURL + sep + v.Encode()
}

func (s *Service) callback(ctx context.Context, q url.Values) (customer, outcome, reason string) {
	tenantID := q.Get("tenant")
	refuse := func(customer, reason, detail string) (string, string, string) {
		ev := state.ConsentEvent{CustomerID: customer, Reason: reason, Detail: detail}
		if tenantIDPattern.MatchString(tenantID) {
			ev.TenantID = tenantID
		}
		if err := s.store.RecordConsentEvent(ctx, ev); err != nil {
			s.log.ErrorContext(ctx, "consent refusal not recorded", "reason", reason, "error", err)
		}
		s.log.WarnContext(ctx, "admin consent callback refused", "customer", customer, "tenant", ev.TenantID, "reason", reason)
		return customer, OutcomeError, reason
	}
	key, err := s.key(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "consent state key unavailable", "error", err)
		return "", OutcomeError, "unavailable"
	}
	claims, err := Verify(key, q.Get("state"), s.now())
	switch {
	case errors.Is(err, ErrStateExpired):
		return refuse(claims.Customer, ErrStateExpired.Error(), "")
	case err != nil:
		// Unsigned claims name nobody: a forged state must not put a
		// customer's name in the redirect or the audit row.
		return refuse("", err.Error(), "")
	}
	if _, err := s.store.ConsumeConsentNonce(ctx, claims.Customer, claims.Nonce); err != nil {
		switch {
		case errors.Is(err, state.ErrNonceUsed):
			return refuse(claims.Customer, ErrStateReplayed.Error(), "")
		case errors.Is(err, state.ErrNonceOtherCustomer):
			return refuse(claims.Customer, ErrStateCustomer.Error(), "")
		case errors.Is(err, state.ErrNotFound):
			return refuse(claims.Customer, ErrStateUnknown.Error(), "")
		}
		s.log.ErrorContext(ctx, "consent nonce not consumed", "customer", claims.Customer, "error", err)
		return claims.Customer, OutcomeError, "unavailable"
	}
	customer = claims.Customer
	// graph.md §8: admin_consent=True comes even with an error; check
	// error first.
	if code := q.Get("error"); code != "" {
		if !errorCodePattern.MatchString(code) {
			code = "unknown"
		}
		out := OutcomeError
		if code == "access_denied" || code == "permission_denied" || code == "consent_required" {
			out = OutcomeDenied
		}
		_, _, _ = refuse(customer, "consent-"+code, truncate(q.Get("error_description"), 300))
		return customer, out, code
	}
	if tenantID == "" || !tenantIDPattern.MatchString(tenantID) {
		return refuse(customer, "tenant-missing", "")
	}
	if !strings.EqualFold(q.Get("admin_consent"), "true") {
		return refuse(customer, "consent-not-granted", "")
	}
	c, err := s.store.GetCustomer(ctx, customer)
	if errors.Is(err, state.ErrNotFound) {
		return refuse(customer, "customer-missing", "")
	}
	if err != nil {
		s.log.ErrorContext(ctx, "consent callback: read customer", "customer", customer, "error", err)
		return customer, OutcomeError, "unavailable"
	}
	if c.TenantID != "" && !strings.EqualFold(c.TenantID, tenantID) {
		return refuse(customer, "customer-bound-to-another-tenant", "bound to "+c.TenantID)
	}
	info, err := s.tenants.Details(ctx, c, tenantID)
	if errors.Is(err, ErrConsentRevoked) {
		return refuse(customer, "token-refused", "")
	}
	if err != nil {
		s.log.ErrorContext(ctx, "consent callback: tenant check failed", "customer", customer, "tenant", tenantID, "error", err)
		return refuse(customer, "tenant-check-failed", "")
	}
	info.CheckedAt = s.now().UTC()
	c.TenantID, c.ConsentedAt, c.Status = tenantID, s.now().UTC(), tenant.StatusConnected
	c.Tenant, c.Education = &info, info.Education
	// A new consent reconnects a customer whose configuration was removed;
	// its links (kept through the retention) are used again.
	c.Disconnected, c.DisconnectedAt = false, time.Time{}
	if err := s.store.PutCustomer(ctx, c); err != nil {
		if errors.Is(err, state.ErrTenantTaken) {
			return refuse(customer, "tenant-taken", "")
		}
		s.log.ErrorContext(ctx, "consent callback: save customer", "customer", customer, "error", err)
		return customer, OutcomeError, "unavailable"
	}
	s.log.InfoContext(ctx, "admin consent recorded", "customer", customer, "tenant", tenantID,
		"domains", len(info.VerifiedDomains), "skus", len(info.SKUs), "education", info.Education)
	return customer, OutcomeConnected, ""
}

// Check reads the customer's tenant again and records what it found: the
// tenant's details and status connected, or status consent_revoked when
// the tenant refuses the app (a state that stays until a new consent, so
// nothing retries against it). Other failures are returned and change
// nothing.
func (s *Service) Check(ctx context.Context, customerID string) (tenant.Customer, error) {
	c, err := s.store.GetCustomer(ctx, customerID)
	if err != nil {
		return c, err
	}
	if c.TenantID == "" {
		return c, fmt.Errorf("customer %s: %w", customerID, ErrNoTenant)
	}
	info, err := s.tenants.Details(ctx, c, c.TenantID)
	switch {
	case errors.Is(err, ErrConsentRevoked):
		c.Status = tenant.StatusConsentRevoked
		if c.Tenant == nil {
			c.Tenant = &tenant.TenantInfo{VerifiedDomains: []string{}, SKUs: []string{}}
		}
		c.Tenant.CheckedAt, c.Tenant.Error = s.now().UTC(), "the tenant refused the app's token: admin consent was revoked"
		s.log.WarnContext(ctx, "customer consent revoked", "customer", c.ID, "tenant", c.TenantID)
	case err != nil:
		return c, err
	default:
		info.CheckedAt = s.now().UTC()
		c.Status, c.Tenant, c.Education = tenant.StatusConnected, &info, info.Education
	}
	if c.Disconnected {
		// Only a new consent reconnects a removed configuration.
		c.Status = tenant.StatusDisconnected
	}
	if err := s.store.PutCustomer(ctx, c); err != nil {
		return c, err
	}
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
