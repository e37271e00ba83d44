package tenant

import (
	"errors"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/egress"
)

func TestCheckSecretName(t *testing.T) {
	tests := []struct {
		customer, name string
		ok             bool
	}{
		{"oak", "customer-oak-oneroster", true},
		{"oak", "Customer-OAK-OneRoster", true}, // Key Vault names are case-insensitive
		{"oak-field", "customer-oak-field-mis", true},
		{"oak", "credentials-key", false},     // the product's sealing key
		{"oak", "graph-client-secret", false}, // the product's Graph secret
		{"oak", "customer-elm-oneroster", false},
		{"oak", "customer-oak-field-mis", false}, // oak-field's, not oak's
		{"oak", "customer-oak-", false},
		{"oak", "customer-oak", false},
		{"oak", "customer-oak-mis.secret", false},
		{"oak", "customer-oak-" + strings.Repeat("x", 120), false},
		{"oak.field", "customer-oak.field-mis", false}, // Key Vault cannot hold '.'
	}
	for _, tt := range tests {
		err := CheckSecretName(tt.customer, tt.name)
		if tt.ok && err != nil {
			t.Errorf("CheckSecretName(%q, %q) = %v, want nil", tt.customer, tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckSecretName(%q, %q) = %v, want ErrInvalid", tt.customer, tt.name, err)
		}
	}
}

// TestProfileSourceRules checks both layers: Validate (what the store
// checks, in every deployment) and ValidateSource with production's policy
// (what the API adds). Each refusal must name the field.
func TestProfileSourceRules(t *testing.T) {
	rest := func(mod func(*RosterSource)) RosterSource {
		s := RosterSource{Kind: SourceREST, BaseURL: "https://mis.example.org/ims/oneroster/v1p1",
			TokenURL: "https://mis.example.org/oauth/token", ClientID: "rs", ClientSecretName: "customer-oak-oneroster"}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	tests := []struct {
		name   string
		source RosterSource
		// field is named by a refusal; "" means accepted.
		store, production string
	}{
		{"good rest source", rest(nil), "", ""},
		{"good csv path", RosterSource{Kind: SourceCSV, Path: "nightly/feed.zip"}, "", ""},
		{"no source", RosterSource{}, "", ""},
		{"sealing key", rest(func(s *RosterSource) { s.ClientSecretName = "credentials-key" }), "source.clientSecretName", "source.clientSecretName"},
		{"another customer's secret", rest(func(s *RosterSource) { s.ClientSecretName = "customer-elm-oneroster" }), "source.clientSecretName", "source.clientSecretName"},
		{"secret outside any namespace", rest(func(s *RosterSource) { s.ClientSecretName = "mis-secret" }), "source.clientSecretName", "source.clientSecretName"},
		{"no secret name", rest(func(s *RosterSource) { s.ClientSecretName = "" }), "source.clientSecretName", "source.clientSecretName"},
		{"http token URL", rest(func(s *RosterSource) { s.TokenURL = "http://mis.example.org/oauth/token" }), "source.tokenUrl", "source.tokenUrl"},
		{"http base URL", rest(func(s *RosterSource) { s.BaseURL = "http://mis.example.org/ims/oneroster/v1p1" }), "source.baseUrl", "source.baseUrl"},
		{"metadata token URL", rest(func(s *RosterSource) { s.TokenURL = "https://169.254.169.254/metadata/identity/oauth2/token" }), "source.tokenUrl", "source.tokenUrl"},
		{"private base URL", rest(func(s *RosterSource) { s.BaseURL = "https://10.0.0.5/ims/oneroster/v1p1" }), "source.baseUrl", "source.baseUrl"},
		// Loopback http is what local runs use, so only the deployment's
		// policy can refuse it.
		{"loopback http", rest(func(s *RosterSource) { s.TokenURL = "http://127.0.0.1:9000/token" }), "", "source.tokenUrl"},
		{"parent path", RosterSource{Kind: SourceCSV, Path: "../elm/feed"}, "source.path", "source.path"},
		{"absolute path", RosterSource{Kind: SourceCSV, Path: "/etc/passwd"}, "source.path", "source.path"},
		{"unknown kind", RosterSource{Kind: "ftp"}, "source.kind", "source.kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Profile{CustomerID: "oak", ID: "nightly", RunAt: "02:00", TimeZone: "Europe/London", Entities: []string{EntityUsers}, Source: tt.source}
			check := func(layer string, err error, field string) {
				t.Helper()
				switch {
				case field == "" && err != nil:
					t.Errorf("%s = %v, want nil", layer, err)
				case field != "" && !errors.Is(err, ErrInvalid):
					t.Errorf("%s = %v, want ErrInvalid", layer, err)
				case field != "" && !strings.Contains(err.Error(), field):
					t.Errorf("%s = %v, want the message to name %s", layer, err, field)
				}
			}
			check("Validate", p.Validate(), tt.store)
			check("ValidateSource(production)", p.ValidateSource(egress.Policy{}), tt.production)
		})
	}
}
