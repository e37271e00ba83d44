package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// TestPutProfileSourceRules: a profile whose source could leak a secret is
// refused at save with 400 and a message naming the field, and nothing is
// stored.
func TestPutProfileSourceRules(t *testing.T) {
	const goodREST = `"kind":"rest","baseUrl":"https://mis.example.org/ims/oneroster/v1p1","tokenUrl":"https://mis.example.org/token","clientId":"rs"`
	tests := []struct {
		name   string
		local  bool
		source string
		field  string // named in the 400; "" means 200
	}{
		{"customer's own secret", false, goodREST + `,"clientSecretName":"customer-oak-oneroster"`, ""},
		{"sealing key", false, goodREST + `,"clientSecretName":"credentials-key"`, "source.clientSecretName"},
		{"another customer's secret", false, goodREST + `,"clientSecretName":"customer-elm-oneroster"`, "source.clientSecretName"},
		{"http token URL", false, `"kind":"rest","baseUrl":"https://mis.example.org/v1p1","tokenUrl":"http://mis.example.org/token","clientId":"rs","clientSecretName":"customer-oak-mis"`, "source.tokenUrl"},
		{"metadata token URL", false, `"kind":"rest","baseUrl":"https://mis.example.org/v1p1","tokenUrl":"http://169.254.169.254/token","clientId":"rs","clientSecretName":"customer-oak-mis"`, "source.tokenUrl"},
		{"private base URL", false, `"kind":"rest","baseUrl":"https://10.0.0.5/v1p1","tokenUrl":"https://mis.example.org/token","clientId":"rs","clientSecretName":"customer-oak-mis"`, "source.baseUrl"},
		{"loopback http in production", false, `"kind":"rest","baseUrl":"http://127.0.0.1:9000/v1p1","tokenUrl":"http://127.0.0.1:9000/token","clientId":"rs","clientSecretName":"customer-oak-mis"`, "source.tokenUrl"},
		{"loopback http in local mode", true, `"kind":"rest","baseUrl":"http://127.0.0.1:9000/v1p1","tokenUrl":"http://127.0.0.1:9000/token","clientId":"rs","clientSecretName":"customer-oak-mis"`, ""},
		{"csv path escaping", true, `"kind":"csv","path":"../elm/feed"`, "source.path"},
		{"absolute csv path", true, `"kind":"csv","path":"/etc"`, "source.path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := embedded.Open("")
			if err != nil {
				t.Fatal(err)
			}
			store := state.NewStore(b, nil)
			if err := store.PutCustomer(context.Background(), tenant.Customer{ID: "oak"}); err != nil {
				t.Fatal(err)
			}
			api := NewAPI(store, nil, nil, DefaultCatalog(), nil)
			if tt.local {
				api.SetSourcePolicy(egress.Policy{Local: true})
			}
			body := `{"name":"Nightly","enabled":true,"runAt":"02:00","timeZone":"Europe/London","entities":["users"],"source":{` + tt.source + `}}`
			req := httptest.NewRequest(http.MethodPut, "/api/customers/oak/profiles/nightly", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)
			if tt.field == "" {
				if rec.Code != http.StatusOK {
					t.Fatalf("PUT = %d %s, want 200", rec.Code, rec.Body)
				}
				return
			}
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tt.field) {
				t.Errorf("PUT = %d %s, want 400 naming %s", rec.Code, rec.Body, tt.field)
			}
			if _, err := store.GetProfile(context.Background(), "oak", "nightly"); err == nil {
				t.Error("the refused profile was stored")
			}
		})
	}
}
