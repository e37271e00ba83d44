package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/secrets"
)

func TestGraphConfigFromSettings(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "graph-client-secret"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		env      map[string]string
		wantMode string
		wantErr  error
		check    func(t *testing.T, c graph.Config)
	}{
		{"static for the simulator", map[string]string{"GraphAuthMode": "static", "GraphBaseUrl": "http://127.0.0.1:5099/v1.0"}, graph.ModeStatic, nil, nil},
		{"secret read from the secret source", map[string]string{"GraphAuthMode": "secret", "GraphAppClientId": "11111111-1111-1111-1111-111111111111", "SecretsDir": dir}, graph.ModeSecret, nil,
			func(t *testing.T, c graph.Config) {
				if c.ClientSecret != "s3cret" {
					t.Errorf("client secret not read from the secret source")
				}
			}},
		{"missing secret", map[string]string{"GraphAuthMode": "secret", "GraphClientSecretName": "nope", "SecretsDir": dir}, graph.ModeSecret, secrets.ErrNotFound, nil},
		{"federated by default", map[string]string{"ManagedIdentityClientId": "22222222-2222-2222-2222-222222222222"}, graph.ModeFederated, nil,
			func(t *testing.T, c graph.Config) {
				if c.ManagedIdentityClientID == "" || c.BaseURL != graph.DefaultBaseURL {
					t.Errorf("federated config = %v", c)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			src, _, err := openSecrets(getenv)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := graphConfig(context.Background(), getenv, src)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("graphConfig = %v, want %v", err, tt.wantErr)
			}
			if cfg.Mode != tt.wantMode {
				t.Errorf("mode = %s, want %s", cfg.Mode, tt.wantMode)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func TestOpenGraphStaticAgainstLoopback(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"GraphAuthMode": "static", "GraphBaseUrl": "http://127.0.0.1:5099/v1.0"}[k]
	}
	src, _, _ := openSecrets(getenv)
	f, err := openGraph(context.Background(), getenv, src, slog.New(slog.DiscardHandler))
	if err != nil || f == nil {
		t.Fatalf("openGraph(static) = %v, %v", f, err)
	}
	c, err := f.Client(context.Background(), "contoso-tenant")
	if err != nil || c.TenantID() == "" {
		t.Errorf("Client = %v, %v", c, err)
	}
}
