// Package consent is admin consent for the multi-tenant app: the consent
// URL with a signed, customer-bound, expiring, single-use state, and the
// callback that verifies it, confirms the tenant through Graph and binds it
// to the customer; and the tenant check that records what the tenant is.
package consent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Why a state is refused. Each is a stable reason code in the audit rows
// and in the redirect to the vendor UI.
var (
	ErrStateMissing   = errors.New("state-missing")
	ErrStateMalformed = errors.New("state-malformed")
	ErrStateForged    = errors.New("state-forged")
	ErrStateExpired   = errors.New("state-expired")
	ErrStateReplayed  = errors.New("state-replayed")
	ErrStateUnknown   = errors.New("state-unknown")
	ErrStateCustomer  = errors.New("state-other-customer")
)

// MinKeyBytes is the shortest signing key accepted.
const MinKeyBytes = 32

// Claims are what a state says.
type Claims struct {
	Customer string    `json:"c"`
	Nonce    string    `json:"n"`
	Expires  time.Time `json:"-"`
	Exp      int64     `json:"e"`
}

// signingContext keeps a consent state's MAC from verifying anything else
// signed with the same key.
const signingContext = "rostersync-consent-state-v1."

var b64 = base64.RawURLEncoding

// Sign returns the state for c: base64url(JSON) "." base64url(HMAC-SHA256).
func Sign(key []byte, c Claims) (string, error) {
	if len(key) < MinKeyBytes {
		return "", fmt.Errorf("consent state key: %d bytes, want at least %d", len(key), MinKeyBytes)
	}
	c.Exp = c.Expires.Unix()
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	payload := b64.EncodeToString(body)
	return payload + "." + b64.EncodeToString(mac(key, payload)), nil
}

func mac(key []byte, payload string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(signingContext + payload))
	return h.Sum(nil)
}

// Verify checks the signature and the expiry (at now) and returns the
// claims. It does not check single use: that is the store's nonce.
func Verify(key []byte, state string, now time.Time) (Claims, error) {
	var c Claims
	if state == "" {
		return c, ErrStateMissing
	}
	if len(state) > 1024 {
		return c, ErrStateMalformed
	}
	payload, sig, ok := strings.Cut(state, ".")
	if !ok {
		return c, ErrStateMalformed
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return c, ErrStateMalformed
	}
	if !hmac.Equal(got, mac(key, payload)) {
		return c, ErrStateForged
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return c, ErrStateMalformed
	}
	if err := json.Unmarshal(body, &c); err != nil || c.Customer == "" || c.Nonce == "" || c.Exp == 0 {
		return Claims{}, ErrStateMalformed
	}
	c.Expires = time.Unix(c.Exp, 0).UTC()
	if !now.Before(c.Expires) {
		return c, ErrStateExpired
	}
	return c, nil
}
