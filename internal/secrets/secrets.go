// Package secrets reads named secrets (Graph client secrets, certificates,
// simulator tokens) for rostersync.
//
// Source is the one method callers need. Two implementations exist: Local
// (a map, a folder of files and/or environment variables, for development
// and tests) and secrets/keyvault (Azure Key Vault, for production). Both use
// Key Vault's naming rule, so a name that works locally also works in the
// vault.
//
// Nothing in this package logs, formats or wraps a secret value into an
// error; the String methods print where secrets come from, never what they
// are.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// Source returns the current value of a named secret.
//
// Implementations must be safe for concurrent use. Secret returns an error
// wrapping ErrNotFound when the source does not hold the name, and one
// wrapping ErrInvalidName when the name breaks Key Vault's naming rule.
type Source interface {
	Secret(ctx context.Context, name string) (string, error)
}

var (
	// ErrNotFound reports that a source holds no secret with the name.
	ErrNotFound = errors.New("secret not found")
	// ErrInvalidName reports a name that Key Vault would reject.
	ErrInvalidName = errors.New("invalid secret name")
)

// MaxNameLength is Key Vault's limit on a secret name.
const MaxNameLength = 127

// validName is Key Vault's secret name rule. Enforcing it for every source
// keeps local and vault configuration interchangeable, and because it allows
// no '/', '\\' or '.', a name can never escape a Local directory.
var validName = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// ValidateName returns an error wrapping ErrInvalidName unless name matches
// Key Vault's rule: 1 to 127 characters, each an ASCII letter, digit or '-'.
func ValidateName(name string) error {
	if validName.MatchString(name) {
		return nil
	}
	if name == "" {
		return fmt.Errorf("empty name: %w", ErrInvalidName)
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("name of %d bytes is longer than %d: %w", len(name), MaxNameLength, ErrInvalidName)
	}
	return fmt.Errorf("name %q may hold only ASCII letters, digits and '-': %w", name, ErrInvalidName)
}
