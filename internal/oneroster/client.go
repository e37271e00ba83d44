package oneroster

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/egress"
)

// Secrets is where the REST client reads its credentials.
// internal/secrets.Source satisfies it.
type Secrets interface {
	Secret(ctx context.Context, name string) (string, error)
}

// OAuth2 configures OAuth 2.0 client-credentials authentication
// (RFC 6749 §4.4), which most OneRoster 1.1 providers offer.
type OAuth2 struct {
	// TokenURL is the provider's token endpoint.
	TokenURL string
	// ClientID is the client identifier; it is not secret.
	ClientID string
	// SecretName names the client secret in ClientOptions.Secrets.
	SecretName string
	// Scope is sent when non-empty, space-separated.
	Scope string
}

// OAuth1 configures OAuth 1.0a request signing with HMAC-SHA256, the
// scheme the OneRoster 1.1 specification itself names.
type OAuth1 struct {
	// ConsumerKey identifies the client; it is not secret.
	ConsumerKey string
	// SecretName names the consumer secret in ClientOptions.Secrets.
	SecretName string
}

// ClientOptions configure a Client. Exactly one of OAuth2 and OAuth1 must
// be set.
type ClientOptions struct {
	// BaseURL is the provider's OneRoster root, which ends in
	// /ims/oneroster/v1p1.
	BaseURL string
	OAuth2  *OAuth2
	OAuth1  *OAuth1
	// Secrets holds the client or consumer secret. Required.
	Secrets Secrets
	// Egress says where the client may send credentials: BaseURL and the
	// token URL are checked against it, and requests go through its HTTP
	// client, which dials only allowed addresses and follows no redirect to
	// another server. The zero value is production's (https to public
	// addresses only); tests against httptest servers set Local. Each
	// request times out after 2 minutes (http.DefaultClient has no
	// timeout, and a stalled provider must not stall a run forever).
	Egress egress.Policy
	// PageSize is the limit asked for per page. Zero means 1000; providers
	// may return fewer, which the client handles.
	PageSize int
	// MaxRetries is how often one request is retried after 429, 5xx or a
	// network error. Zero means 4; negative means never.
	MaxRetries int
	// BaseDelay is the first backoff delay, doubled per retry with jitter.
	// Zero means 1 s.
	BaseDelay time.Duration
	// MaxDelay caps one wait. A Retry-After longer than this ends the read
	// with an error instead of waiting: the run is better rescheduled than
	// parked. Zero means 60 s.
	MaxDelay time.Duration
	// Clock is used for waiting, token expiry and OAuth 1 timestamps. Nil
	// means the wall clock.
	Clock clock.Clock
	// Logger receives one line per request retry and token fetch, with
	// collection names, status codes and counts only. Nil means none.
	Logger *slog.Logger
	// Nonce returns OAuth 1 nonces. Nil means 16 random bytes in hex.
	Nonce func() string
	// Jitter returns a number in [0, 1) to spread backoff delays. Nil
	// means math/rand.
	Jitter func() float64
}

// ErrUnauthorized reports credentials the provider refused (HTTP 401 or
// 403, or a failed token request). Retrying will not help.
var ErrUnauthorized = errors.New("oneroster: credentials refused")

// HTTPError is a response the client could not use. Use errors.As to read
// it; the message text is not an API.
type HTTPError struct {
	Method     string
	URL        string
	StatusCode int
	// Provider is what the provider said, from an OAuth 2 or OneRoster
	// error body ("invalid_scope: scope is required"), clipped; "" when
	// it said nothing readable.
	Provider string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("oneroster: %s %s: HTTP %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Provider != "" {
		msg += ": the provider says " + strconv.Quote(e.Provider)
	}
	return msg
}

// providerSays reads an error body: OAuth 2's error and error_description
// (RFC 6749 §5.2), or OneRoster's imsx_description. Only those fields are
// kept, clipped, so nothing else a provider sends reaches an error.
func providerSays(body []byte) string {
	var b struct {
		Error       any    `json:"error"`
		Description string `json:"error_description"`
		Imsx        string `json:"imsx_description"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	var parts []string
	if s, ok := b.Error.(string); ok && s != "" {
		parts = append(parts, s)
	}
	for _, s := range []string{b.Description, b.Imsx} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	out := strings.Join(parts, ": ")
	if len(out) > 200 {
		out = out[:200] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F {
			return ' '
		}
		return r
	}, out)
}

// Unwrap returns ErrUnauthorized for 401 and 403.
func (e *HTTPError) Unwrap() error {
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		return ErrUnauthorized
	}
	return nil
}

// Client reads the OneRoster 1.1 REST binding. It is safe for concurrent
// use; concurrent reads share one cached OAuth 2 token.
type Client struct {
	base    *url.URL
	o       ClientOptions
	http    *http.Client
	clock   clock.Clock
	log     *slog.Logger
	nonce   func() string
	jitter  func() float64
	tokenMu sync.Mutex
	token   string
	expiry  time.Time
}

// NewClient checks the options and returns a client. It fetches nothing.
func NewClient(opts ClientOptions) (*Client, error) {
	if (opts.OAuth2 == nil) == (opts.OAuth1 == nil) {
		return nil, errors.New("oneroster client: set exactly one of OAuth2 and OAuth1")
	}
	if opts.Secrets == nil {
		return nil, errors.New("oneroster client: no secret source")
	}
	base, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("oneroster client: base URL %q is not an absolute URL", opts.BaseURL)
	}
	if err := opts.Egress.CheckURL(base.String()); err != nil {
		return nil, fmt.Errorf("oneroster client: base URL: %w", err)
	}
	if opts.OAuth2 != nil {
		if u, err := url.Parse(opts.OAuth2.TokenURL); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("oneroster client: token URL %q is not an absolute URL", opts.OAuth2.TokenURL)
		}
		if err := opts.Egress.CheckURL(opts.OAuth2.TokenURL); err != nil {
			return nil, fmt.Errorf("oneroster client: token URL: %w", err)
		}
	}
	c := &Client{base: base, o: opts, http: opts.Egress.Client(2 * time.Minute), clock: opts.Clock, log: opts.Logger, nonce: opts.Nonce, jitter: opts.Jitter}
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.nonce == nil {
		c.nonce = func() string {
			b := make([]byte, 16)
			_, _ = rand.Read(b) // never fails (crypto/rand panics rather)
			return hex.EncodeToString(b)
		}
	}
	if c.jitter == nil {
		c.jitter = mathrand.Float64
	}
	if c.o.PageSize <= 0 {
		c.o.PageSize = 1000
	}
	if c.o.MaxRetries == 0 {
		c.o.MaxRetries = 4
	}
	if c.o.BaseDelay <= 0 {
		c.o.BaseDelay = time.Second
	}
	if c.o.MaxDelay <= 0 {
		c.o.MaxDelay = 60 * time.Second
	}
	return c, nil
}

// tokenSkew is how long before expiry a token is replaced, so that a
// request never leaves with a token that expires on the way.
const tokenSkew = time.Minute

// bearer returns a cached OAuth 2 token, fetching a new one when there is
// none or it is about to expire.
func (c *Client) bearer(ctx context.Context) (string, error) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if c.token != "" && c.clock.Now().Before(c.expiry) {
		return c.token, nil
	}
	o := c.o.OAuth2
	secret, err := c.o.Secrets.Secret(ctx, o.SecretName)
	if err != nil {
		return "", fmt.Errorf("oneroster token: client secret: %w", err)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if o.Scope != "" {
		form.Set("scope", o.Scope)
	}
	body := form.Encode()
	resp, err := c.do(ctx, "token", func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenURL, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(secret))
		return req, nil
	}, false)
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) && he.StatusCode == http.StatusBadRequest {
			// invalid_client and invalid_grant come back as 400.
			return "", fmt.Errorf("oneroster token: %w: %w", ErrUnauthorized, err)
		}
		return "", fmt.Errorf("oneroster token: %w", err)
	}
	var tok struct {
		AccessToken string      `json:"access_token"`
		TokenType   string      `json:"token_type"`
		ExpiresIn   json.Number `json:"expires_in"`
	}
	if err := json.Unmarshal(resp.body, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("oneroster token: response from %s has no access_token", o.TokenURL)
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer") {
		return "", fmt.Errorf("oneroster token: token type %q, want bearer", tok.TokenType)
	}
	life := time.Hour // RFC 6749 makes expires_in optional; assume an hour
	if s, err := tok.ExpiresIn.Int64(); err == nil && s > 0 {
		life = time.Duration(s) * time.Second
	}
	skew := min(tokenSkew, life/10)
	c.token, c.expiry = tok.AccessToken, c.clock.Now().Add(life-skew)
	c.log.Info("oneroster token fetched", "expires_in_s", int(life.Seconds()))
	return c.token, nil
}

// dropToken forgets a token the provider refused, unless another request
// has already replaced it.
func (c *Client) dropToken(token string) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if c.token == token {
		c.token = ""
	}
}

// authorize adds credentials to an API request and returns the OAuth 2
// token used (for dropToken), if any.
func (c *Client) authorize(ctx context.Context, req *http.Request) (string, error) {
	if c.o.OAuth2 != nil {
		tok, err := c.bearer(ctx)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return tok, nil
	}
	secret, err := c.o.Secrets.Secret(ctx, c.o.OAuth1.SecretName)
	if err != nil {
		return "", fmt.Errorf("oneroster: consumer secret: %w", err)
	}
	req.Header.Set("Authorization", signOAuth1(req.Method, req.URL, c.o.OAuth1.ConsumerKey, secret, c.nonce(), c.clock.Now().Unix()))
	return "", nil
}

type response struct {
	header http.Header
	body   []byte
}

// maxBody bounds one response, against a provider (or proxy) that never
// stops sending.
const maxBody = 512 << 20

// do sends a request built by build, retrying 429, 5xx and network errors
// with backoff (honouring Retry-After), and, for API requests (auth),
// replacing a refused OAuth 2 token once. what labels log lines.
func (c *Client) do(ctx context.Context, what string, build func() (*http.Request, error), auth bool) (*response, error) {
	refreshed := false
	for attempt := 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return nil, fmt.Errorf("oneroster: build request: %w", err)
		}
		var token string
		if auth {
			if token, err = c.authorize(ctx, req); err != nil {
				return nil, err
			}
		}
		resp, err := c.http.Do(req)
		var status int
		var body []byte
		var header http.Header
		if err == nil {
			status, header = resp.StatusCode, resp.Header
			body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("oneroster: %s: %w", what, ctxErr)
		}
		herr := &HTTPError{Method: req.Method, URL: redactURL(req.URL), StatusCode: status}
		switch {
		case errors.Is(err, egress.ErrRefused):
			// An address or redirect the policy forbids stays forbidden.
			return nil, fmt.Errorf("oneroster: %s: %w", what, err)
		case err != nil:
			// Connection resets and timeouts are worth another try.
		case status >= 200 && status < 300:
			return &response{header: header, body: body}, nil
		case status == http.StatusUnauthorized && auth && c.o.OAuth2 != nil && !refreshed:
			// The token may have been revoked or expired early; fetch a
			// new one once before believing the refusal.
			c.dropToken(token)
			refreshed = true
			attempt--
			c.log.Info("oneroster token refused, refreshing", "what", what)
			continue
		case !retryable(status):
			herr.Provider = providerSays(body)
			return nil, herr
		}
		if attempt >= c.o.MaxRetries {
			if err != nil {
				return nil, fmt.Errorf("oneroster: %s: gave up after %d attempts: %w", what, attempt+1, err)
			}
			return nil, fmt.Errorf("oneroster: %s: gave up after %d attempts: %w", what, attempt+1, herr)
		}
		delay, fromHeader := c.retryAfter(header)
		if !fromHeader {
			delay = c.backoff(attempt)
		}
		if delay > c.o.MaxDelay {
			return nil, fmt.Errorf("oneroster: %s: provider asks to wait %s, more than %s: %w", what, delay, c.o.MaxDelay, herr)
		}
		c.log.Info("oneroster retry", "what", what, "status", status, "attempt", attempt+1, "wait_ms", delay.Milliseconds())
		if !clock.Sleep(ctx, c.clock, delay) {
			return nil, fmt.Errorf("oneroster: %s: %w", what, ctx.Err())
		}
	}
}

func retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff is BaseDelay·2^attempt, capped at MaxDelay, times a random 0.5–1.5
// so that many tenants' runs do not retry in step.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.o.BaseDelay << min(attempt, 20)
	if d <= 0 || d > c.o.MaxDelay {
		d = c.o.MaxDelay
	}
	return min(time.Duration(float64(d)*(0.5+c.jitter())), c.o.MaxDelay)
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func (c *Client) retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(c.clock.Now()), 0), true
	}
	return 0, false
}

// redactURL drops the query from URLs in errors: filters are harmless, but
// some providers accept credentials as query parameters.
func redactURL(u *url.URL) string {
	v := *u
	v.RawQuery = ""
	v.User = nil
	return v.String()
}

// signOAuth1 returns the Authorization header for an OAuth 1.0a request
// signed with HMAC-SHA256 (RFC 5849 §3.4, with SHA-256 in place of SHA-1
// as OneRoster 1.1 requires). There is no token secret: OneRoster uses
// two-legged OAuth.
func signOAuth1(method string, u *url.URL, key, secret, nonce string, ts int64) string {
	oauth := map[string]string{
		"oauth_consumer_key":     key,
		"oauth_nonce":            nonce,
		"oauth_signature_method": "HMAC-SHA256",
		"oauth_timestamp":        strconv.FormatInt(ts, 10),
		"oauth_version":          "1.0",
	}
	var params [][2]string
	for k, vs := range u.Query() {
		for _, v := range vs {
			params = append(params, [2]string{percent(k), percent(v)})
		}
	}
	for k, v := range oauth {
		params = append(params, [2]string{percent(k), percent(v)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i][0] != params[j][0] {
			return params[i][0] < params[j][0]
		}
		return params[i][1] < params[j][1]
	})
	pairs := make([]string, len(params))
	for i, p := range params {
		pairs[i] = p[0] + "=" + p[1]
	}
	base := strings.ToUpper(method) + "&" + percent(baseStringURI(u)) + "&" + percent(strings.Join(pairs, "&"))
	mac := hmac.New(sha256.New, []byte(percent(secret)+"&"))
	mac.Write([]byte(base))
	oauth["oauth_signature"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))

	keys := make([]string, 0, len(oauth))
	for k := range oauth {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("OAuth ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `%s="%s"`, k, percent(oauth[k]))
	}
	return b.String()
}

// baseStringURI is scheme://host[:port]/path in lower case scheme and
// host, without default ports (RFC 5849 §3.4.1.2).
func baseStringURI(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && !(scheme == "http" && p == "80" || scheme == "https" && p == "443") {
		host += ":" + p
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// percent is RFC 3986 percent-encoding: everything but unreserved
// characters, with upper-case hex (RFC 5849 §3.6). url.QueryEscape differs
// (it writes spaces as '+').
func percent(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
