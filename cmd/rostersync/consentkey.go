package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/rostersync/rostersync/internal/app"
)

// consentKeyFile holds, locally, the key that signs admin-consent states;
// in Azure it is the Key Vault secret consent-state-key.
const consentKeyFile = "consent-state.key"

// localConsentKey reads the consent state key, making one on first use.
func localConsentKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		k := base64.StdEncoding.EncodeToString(raw)
		if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
			return nil, err
		}
		return raw, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the consent state key %s: %w", path, err)
	}
	return app.ParseConsentKey(string(b))
}
