package graph

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/rostersync/rostersync/internal/graphsim"
)

func TestTenantDetails(t *testing.T) {
	business := simTenant()
	business.Edition = graphsim.EditionBusiness
	business.SubscribedSkus = []graphsim.SkuState{{SkuID: simSKU, SkuPartNumber: "O365_BUSINESS_PREMIUM", Seats: 10}}
	eduNoSKU := simTenant()
	eduNoSKU.SubscribedSkus = nil
	tests := []struct {
		name     string
		ts       graphsim.TenantState
		wantSKUs []string
		wantEdu  bool
	}{
		{"education SKU", simTenant(), []string{"STANDARDWOFFPACK_STUDENT"}, true},
		{"education API answers without an education SKU", eduNoSKU, []string{}, true},
		{"business tenant", business, []string{"O365_BUSINESS_PREMIUM"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newSimEnv(t, graphsim.Options{}, tc.ts, nil)
			d, err := env.client.TenantDetails(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if d.DisplayName != "Test School" || !slices.Equal(d.VerifiedDomains, []string{simDomain, "testschool.onmicrosoft.com"}) ||
				!slices.Equal(d.SKUs, tc.wantSKUs) || d.Education != tc.wantEdu {
				t.Errorf("TenantDetails = %+v, want Test School, the two verified domains, SKUs %v, education %v", d, tc.wantSKUs, tc.wantEdu)
			}
		})
	}
}

// A tenant answering 401 (the app's consent withdrawn) is ErrConsentRevoked,
// not a transient failure.
func TestTenantDetailsConsentRevoked(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{}, simTenant(), func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"InvalidAuthenticationToken","message":"Access token validation failure."}}`))
		})
	})
	_, err := env.client.TenantDetails(t.Context())
	if !errors.Is(err, ErrConsentRevoked) || !ConsentRevoked(err) {
		t.Fatalf("TenantDetails against a 401 = %v, want ErrConsentRevoked", err)
	}
	var tr interface{ Transient() bool }
	if errors.As(err, &tr) && tr.Transient() {
		t.Errorf("a revoked consent reads as transient: %v", err)
	}
}
