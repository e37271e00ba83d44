package tenant

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rostersync/rostersync/internal/egress"
)

// secretNamePrefix starts every secret name a profile may use; see
// CheckSecretName.
const secretNamePrefix = "customer-"

// secretWord is the part of a customer secret's name after the customer
// id. It has no '-', so the owner of a name is unambiguous: in
// customer-oak-field-mis the owner is oak-field, never oak.
var secretWord = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// keyVaultID is what a customer id must be for its secrets to be nameable:
// Key Vault allows only ASCII letters, digits and '-' in a name.
var keyVaultID = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// SecretNamespace is the prefix of every secret a customer's profiles may
// read: "customer-{customerId}-".
func SecretNamespace(customerID string) string {
	return secretNamePrefix + customerID + "-"
}

// CheckSecretName reports whether a profile of customerID may read the
// secret called name. The rule: name is "customer-{customerId}-{word}",
// word being ASCII letters and digits only (e.g. customer-oak-oneroster),
// at most 127 characters in all (Key Vault's limit). Everything else —
// the product's own secrets such as credentials-key (which seals every
// customer's initial passwords) or graph-client-secret, and every other
// customer's secrets — is out of reach of a profile. The owner is compared
// case-insensitively because Key Vault names are.
//
// It is checked when a profile is saved and again before a secret is
// fetched, so a profile stored before the rule existed cannot leak either.
func CheckSecretName(customerID, name string) error {
	want := fmt.Sprintf("%sNAME, NAME being letters and digits only", SecretNamespace(customerID))
	if !keyVaultID.MatchString(customerID) {
		return fmt.Errorf("%w secret name %q: customer id %q holds characters Key Vault names cannot, so this customer cannot name a secret", ErrInvalid, name, customerID)
	}
	if len(name) > 127 {
		return fmt.Errorf("%w secret name of %d characters: Key Vault allows 127", ErrInvalid, len(name))
	}
	rest, ok := cutPrefixFold(name, SecretNamespace(customerID))
	if !ok || !secretWord.MatchString(rest) {
		return fmt.Errorf("%w secret name %q: a profile may read only its customer's secrets, named %s", ErrInvalid, name, want)
	}
	return nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// Validate checks the source of customerID's profile against the rules
// that hold in every deployment, and the URLs against pol. Errors wrap
// ErrInvalid and name the field (source.tokenUrl, …).
func (s RosterSource) Validate(customerID string, pol egress.Policy) error {
	switch s.Format {
	case FormatAuto, FormatOneRoster, FormatSDSv1, FormatSDSv21:
	default:
		return fmt.Errorf("%w source.format %q: want oneroster, sds-v1 or sds-v2.1", ErrInvalid, s.Format)
	}
	if s.MaxQuarantinePercent > 100 {
		return fmt.Errorf("%w source.maxQuarantinePercent %v: want at most 100", ErrInvalid, s.MaxQuarantinePercent)
	}
	switch s.Kind {
	case "", SourceCSV, SourceSDSv1, SourceSDSv21:
		if s.Path == "" {
			return nil
		}
		if !filepath.IsLocal(s.Path) {
			return fmt.Errorf("%w source.path %q: want a path inside the customer's feed folder, relative, without '..'", ErrInvalid, s.Path)
		}
		return nil
	case SourceBlob:
		return s.validateBlob()
	case SourceREST:
	default:
		return fmt.Errorf("%w source.kind %q: want csv, rest, blob, sds-v1 or sds-v2.1", ErrInvalid, s.Kind)
	}
	for _, f := range []struct{ name, v string }{{"baseUrl", s.BaseURL}, {"tokenUrl", s.TokenURL}, {"clientId", s.ClientID}, {"clientSecretName", s.ClientSecretName}} {
		if f.v == "" {
			return fmt.Errorf("%w source.%s: a rest source needs baseUrl, tokenUrl, clientId and clientSecretName", ErrInvalid, f.name)
		}
	}
	if err := CheckSecretName(customerID, s.ClientSecretName); err != nil {
		return fmt.Errorf("source.clientSecretName: %w", err)
	}
	for _, f := range []struct{ name, v string }{{"tokenUrl", s.TokenURL}, {"baseUrl", s.BaseURL}} {
		if err := pol.CheckURL(f.v); err != nil {
			return fmt.Errorf("%w source.%s: %w", ErrInvalid, f.name, err)
		}
	}
	return nil
}

// anyDeployment is the most a deployment can allow (local mode, no
// allow-list): what a store, which does not know its deployment, checks.
var anyDeployment = egress.Policy{Local: true}

// ValidateSource checks the profile's source against the deployment's
// policy: what the API checks before saving, on top of Validate (which
// cannot know whether the deployment is local).
func (p Profile) ValidateSource(pol egress.Policy) error {
	if err := p.Source.Validate(p.CustomerID, pol); err != nil {
		return fmt.Errorf("profile %s: %w", p.ID, err)
	}
	return nil
}

// DropContainer is the deployment's roster drop container: a blob
// source whose container is empty reads it, and no other. Infra creates
// it and grants the app's identity read access; internal/infracheck keeps
// the names equal.
const DropContainer = "rosterdrops"

// blobContainer is what a container name may be (Azure's rule).
var blobContainer = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)

// validateBlob checks a blob source's names. The prefix is a relative
// path: the reader puts it under the customer's own folder, so '..', a
// leading '/' or a backslash could only be an attempt to leave it.
func (s RosterSource) validateBlob() error {
	if s.Container != "" && !blobContainer.MatchString(s.Container) {
		return fmt.Errorf("%w source.container %q: want a storage container name (3-63 lower-case letters, digits and single hyphens)", ErrInvalid, s.Container)
	}
	bad := strings.Contains(s.Prefix, "\\") || strings.HasPrefix(s.Prefix, "/")
	for seg := range strings.SplitSeq(strings.TrimSuffix(s.Prefix, "/"), "/") {
		bad = bad || s.Prefix != "" && (seg == "" || seg == "." || seg == "..")
	}
	if bad {
		return fmt.Errorf("%w source.prefix %q: want a relative path inside the customer's folder of the drop container, without '..'", ErrInvalid, s.Prefix)
	}
	return nil
}
