package oneroster

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/oneroster/onerostertest"
)

// TestRESTProviderAnswers: the provider's own words reach the error, the
// profile's scope reaches the token request, and a refused or missing
// optional collection is recorded and skipped while every other failure
// names the URL path and status.
func TestRESTProviderAnswers(t *testing.T) {
	tests := []struct {
		name    string
		scope   string
		handler func(next http.Handler) http.Handler
		// wantErr is text the error must hold; "" means the read succeeds.
		wantErr string
		isErr   error
		note    string
	}{
		{name: "token refused with error_description", handler: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == onerostertest.TokenPath {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					_, _ = w.Write([]byte(`{"error":"invalid_scope","error_description":"scope is required"}`))
					return
				}
				next.ServeHTTP(w, r)
			})
		}, wantErr: `the provider says "invalid_scope: scope is required"`, isErr: ErrUnauthorized},
		{name: "scope sent", scope: "roster-core.readonly", handler: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == onerostertest.TokenPath {
					if err := r.ParseForm(); err != nil || r.PostForm.Get("scope") != "roster-core.readonly" {
						w.WriteHeader(http.StatusBadRequest)
						_, _ = w.Write([]byte(`{"error":"invalid_scope","error_description":"scope is required"}`))
						return
					}
				}
				next.ServeHTTP(w, r)
			})
		}},
		{name: "403 on demographics is skipped", handler: deny("/demographics", http.StatusForbidden), note: "HTTP 403"},
		{name: "404 on demographics is skipped", handler: deny("/demographics", http.StatusNotFound), note: "HTTP 404"},
		{name: "403 on users names the path and status", handler: deny("/users", http.StatusForbidden),
			wantErr: onerostertest.BasePath + "/users: HTTP 403", isErr: ErrUnauthorized},
		{name: "404 on classes names the path and status", handler: deny("/classes", http.StatusNotFound),
			wantErr: onerostertest.BasePath + "/classes: HTTP 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := onerostertest.New(readSample(t), onerostertest.Options{OAuth2: &onerostertest.Credentials{ID: "rostersync", Secret: testSecrets["mis-client-secret"]}})
			hs := httptest.NewServer(tt.handler(srv))
			t.Cleanup(hs.Close)
			c, err := NewClient(ClientOptions{BaseURL: hs.URL + onerostertest.BasePath, Secrets: testSecrets, Egress: egress.Policy{Local: true}, MaxRetries: -1,
				OAuth2: &OAuth2{TokenURL: hs.URL + onerostertest.TokenPath, ClientID: "rostersync", SecretName: "mis-client-secret", Scope: tt.scope}})
			if err != nil {
				t.Fatal(err)
			}
			f, err := c.Read(context.Background(), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || tt.isErr != nil && !errors.Is(err, tt.isErr) {
					t.Fatalf("Read error = %v, want one saying %q (%v)", err, tt.wantErr, tt.isErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if tt.note != "" {
				st := f.Files[KindDemographics]
				if st.Mode != ModeAbsent || !strings.Contains(st.Note, tt.note) || !strings.Contains(st.Note, "/demographics") {
					t.Errorf("demographics stats = %+v, want absent with a note naming the path and %s", st, tt.note)
				}
			}
		})
	}
}

func deny(suffix string, status int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, suffix) {
				w.WriteHeader(status)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
