package graph

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Modes say how the factory authenticates to Graph.
const (
	// ModeFederated is the production mode: a user-assigned managed
	// identity's token for TokenExchangeScope is the client assertion for
	// the multi-tenant app in each customer tenant. No secret exists.
	ModeFederated = "federated"
	// ModeSecret authenticates the app with a client secret (dev/test).
	ModeSecret = "secret"
	// ModeCertificate authenticates the app with a certificate.
	ModeCertificate = "certificate"
	// ModeStatic sends a fixed bearer token, for the local Graph simulator.
	ModeStatic = "static"
)

const (
	// DefaultBaseURL is Graph v1.0 in the global cloud.
	DefaultBaseURL = "https://graph.microsoft.com/v1.0"
	// DefaultScope is the scope every Graph token is requested for: the
	// app's admin-consented application permissions.
	DefaultScope = "https://graph.microsoft.com/.default"
	// TokenExchangeScope is the audience of the managed identity token
	// that federated mode presents as the app's client assertion.
	TokenExchangeScope = "api://AzureADTokenExchange/.default"
	// DefaultStaticToken is the token template static mode uses when
	// Config.StaticToken is empty; the simulator reads the tenant from it.
	DefaultStaticToken = "sim:" + TenantPlaceholder
	// TenantPlaceholder in Config.StaticToken is replaced by the tenant id.
	TenantPlaceholder = "{tenant}"
	// DefaultRetryMaxAttempts is how many times a throttled (429) or
	// unavailable (503, 504) request is retried when
	// Config.RetryMaxAttempts is zero.
	DefaultRetryMaxAttempts = 3
	// MaxRetryMaxAttempts is kiota's ceiling; it silently caps higher
	// values, so the factory rejects them instead.
	MaxRetryMaxAttempts = 10
)

// Config configures a Factory. Only the fields of the chosen Mode may be
// set; NewFactory rejects the others so a half-edited configuration fails
// at start-up instead of authenticating in a way nobody intended.
type Config struct {
	// Mode is ModeFederated, ModeSecret, ModeCertificate or ModeStatic.
	Mode string
	// AppClientID is the multi-tenant app registration's client id.
	// Required except in static mode.
	AppClientID string
	// ManagedIdentityClientID is the client id of the user-assigned
	// managed identity that the app trusts (federated mode only).
	ManagedIdentityClientID string
	// ClientSecret is the app's secret (secret mode only).
	ClientSecret string
	// CertificatePEM holds the certificate and its unencrypted private key
	// in PEM (certificate mode only).
	CertificatePEM []byte
	// BaseURL is the Graph root, default DefaultBaseURL. It must be https,
	// except for a loopback host (a local simulator), where http is
	// allowed. Tokens are sent only to this URL's host.
	BaseURL string
	// StaticToken is the bearer token for static mode, default
	// DefaultStaticToken. Every TenantPlaceholder is replaced by the
	// tenant id.
	StaticToken string
	// AllowStaticRemote lets static mode talk to a non-loopback host, e.g.
	// a simulator in another container. Without it, a static token can
	// only reach this machine, so a test configuration pointed at real
	// Graph fails at start-up.
	AllowStaticRemote bool
	// DisableCompression stops gzip-compressing request bodies. Graph
	// accepts them; a simple simulator might not.
	DisableCompression bool
	// RetryMaxAttempts is how many times a request that got 429, 503 or
	// 504 is retried (honouring Retry-After). Zero means
	// DefaultRetryMaxAttempts, negative turns retries off, and values
	// above MaxRetryMaxAttempts are rejected.
	RetryMaxAttempts int
}

// ErrInvalidConfig is wrapped by every configuration error NewFactory
// returns.
var ErrInvalidConfig = errors.New("invalid graph configuration")

// ErrInvalidTenant is wrapped by the error Factory.Client returns for a
// tenant id that is not a GUID or domain-like name.
var ErrInvalidTenant = errors.New("invalid tenant id")

var (
	// guid is the shape of Entra app and managed identity client ids.
	guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// tenantID is azidentity's rule (a GUID or a domain such as
	// contoso.onmicrosoft.com). Checking it here gives static mode the same
	// rule and keeps odd characters out of the static token.
	tenantID = regexp.MustCompile(`^[0-9a-zA-Z.-]{1,256}$`)
)

// settings is a validated Config with defaults applied and the
// certificate parsed.
type settings struct {
	Config
	base  *url.URL
	certs []*x509.Certificate
	key   crypto.PrivateKey
}

// validate checks c and applies defaults. assertionInjected says an option
// supplies the federated assertion, so no managed identity id is needed.
func (c Config) validate(assertionInjected bool) (*settings, error) {
	s := &settings{Config: c}
	if s.BaseURL == "" {
		s.BaseURL = DefaultBaseURL
	}
	s.BaseURL = strings.TrimRight(s.BaseURL, "/")
	if s.RetryMaxAttempts > MaxRetryMaxAttempts {
		return nil, invalid("RetryMaxAttempts %d is above the maximum %d", s.RetryMaxAttempts, MaxRetryMaxAttempts)
	}
	if s.RetryMaxAttempts == 0 {
		s.RetryMaxAttempts = DefaultRetryMaxAttempts
	}

	switch s.Mode {
	case ModeFederated, ModeSecret, ModeCertificate, ModeStatic:
	case "":
		return nil, invalid("Mode is empty; want %s, %s, %s or %s", ModeFederated, ModeSecret, ModeCertificate, ModeStatic)
	default:
		return nil, invalid("unknown Mode %q; want %s, %s, %s or %s", s.Mode, ModeFederated, ModeSecret, ModeCertificate, ModeStatic)
	}
	// Fields that belong to one mode only; one set under another mode is a
	// mistake (say, a secret left behind when switching to federated).
	for _, f := range []struct {
		name, mode string
		set        bool
	}{
		{"ManagedIdentityClientID", ModeFederated, s.ManagedIdentityClientID != ""},
		{"ClientSecret", ModeSecret, s.ClientSecret != ""},
		{"CertificatePEM", ModeCertificate, len(s.CertificatePEM) > 0},
		{"StaticToken", ModeStatic, s.StaticToken != ""},
		{"AllowStaticRemote", ModeStatic, s.AllowStaticRemote},
	} {
		if f.set && f.mode != s.Mode {
			return nil, invalid("%s is set but Mode is %q (it belongs to %s mode)", f.name, s.Mode, f.mode)
		}
	}

	if s.Mode != ModeStatic {
		if s.AppClientID == "" {
			return nil, invalid("AppClientID is required in %s mode", s.Mode)
		}
		if !guid.MatchString(s.AppClientID) {
			return nil, invalid("AppClientID %q is not a GUID", s.AppClientID)
		}
	}
	switch s.Mode {
	case ModeFederated:
		if s.ManagedIdentityClientID == "" && !assertionInjected {
			return nil, invalid("ManagedIdentityClientID (the user-assigned identity the app trusts) is required in federated mode")
		}
		if s.ManagedIdentityClientID != "" && !guid.MatchString(s.ManagedIdentityClientID) {
			return nil, invalid("ManagedIdentityClientID %q is not a GUID", s.ManagedIdentityClientID)
		}
	case ModeSecret:
		if s.ClientSecret == "" {
			return nil, invalid("ClientSecret is required in secret mode")
		}
	case ModeCertificate:
		if len(s.CertificatePEM) == 0 {
			return nil, invalid("CertificatePEM is required in certificate mode")
		}
		certs, key, err := azidentity.ParseCertificates(s.CertificatePEM, nil)
		if err != nil {
			// The parser's message describes the PEM structure, not the key.
			return nil, fmt.Errorf("%w: CertificatePEM: %w", ErrInvalidConfig, err)
		}
		s.certs, s.key = certs, key
	case ModeStatic:
		if s.StaticToken == "" {
			s.StaticToken = DefaultStaticToken
		}
		if strings.ContainsAny(s.StaticToken, " \t\r\n") {
			return nil, invalid("StaticToken must not contain whitespace")
		}
	}

	base, err := url.Parse(s.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: BaseURL: %w", ErrInvalidConfig, err)
	}
	switch {
	case base.Scheme != "https" && base.Scheme != "http":
		return nil, invalid("BaseURL %q must be an http(s) URL", s.BaseURL)
	case base.Host == "" || base.Hostname() == "":
		return nil, invalid("BaseURL %q has no host", s.BaseURL)
	case base.User != nil || base.RawQuery != "" || base.Fragment != "":
		return nil, invalid("BaseURL %q must not hold user info, a query or a fragment", s.BaseURL)
	}
	loopback := isLoopback(base.Hostname())
	switch {
	case s.Mode == ModeStatic && !loopback && !s.AllowStaticRemote:
		return nil, invalid("static mode sends a fixed token; BaseURL host %q is not loopback (set AllowStaticRemote to permit it)", base.Hostname())
	case s.Mode != ModeStatic && base.Scheme == "http" && !loopback:
		// kiota's token provider refuses http outside loopback at request
		// time; failing here says why before any customer run.
		return nil, invalid("BaseURL %q: tokens are sent over https only, except to a loopback host", s.BaseURL)
	}
	s.base = base
	return s, nil
}

// isLoopback is kiota's list of hosts exempt from its https rule
// (kiota-authentication-azure-go LocalhostStrings); using the same list
// keeps validation and request-time behaviour in step.
func isLoopback(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// validateTenant checks a customer tenant id before it reaches a
// credential, a URL or the static token.
func validateTenant(id string) error {
	if tenantID.MatchString(id) {
		return nil
	}
	if id == "" {
		return fmt.Errorf("empty tenant id: %w", ErrInvalidTenant)
	}
	return fmt.Errorf("tenant %q: want a GUID or domain name: %w", id, ErrInvalidTenant)
}

// String prints the configuration with secrets redacted, so a Config can be
// logged. Format and GoString route every fmt verb through it.
func (c Config) String() string {
	redact := func(set bool) string {
		if set {
			return "[redacted]"
		}
		return `""`
	}
	return fmt.Sprintf("graph.Config{Mode:%q AppClientID:%q ManagedIdentityClientID:%q ClientSecret:%s CertificatePEM:%s BaseURL:%q StaticToken:%s AllowStaticRemote:%t DisableCompression:%t RetryMaxAttempts:%d}",
		c.Mode, c.AppClientID, c.ManagedIdentityClientID,
		redact(c.ClientSecret != ""), redact(len(c.CertificatePEM) > 0),
		c.BaseURL, redact(c.StaticToken != ""),
		c.AllowStaticRemote, c.DisableCompression, c.RetryMaxAttempts)
}

// GoString covers %#v.
func (c Config) GoString() string { return c.String() }

// Format makes every verb print String, never the raw secret fields.
func (c Config) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }
