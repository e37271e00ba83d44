package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{name: "simple", in: "graph-client-secret"},
		{name: "digits and case", in: "Tenant0001-Cert"},
		{name: "max length", in: strings.Repeat("a", 127)},
		{name: "empty", in: "", wantErr: true},
		{name: "too long", in: strings.Repeat("a", 128), wantErr: true},
		{name: "underscore", in: "graph_secret", wantErr: true},
		{name: "dot", in: "graph.secret", wantErr: true},
		{name: "path traversal", in: "../etc/passwd", wantErr: true},
		{name: "slash", in: "a/b", wantErr: true},
		{name: "space", in: "a b", wantErr: true},
		{name: "non-ascii", in: "clé", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.in)
			if tt.wantErr != (err != nil) {
				t.Fatalf("ValidateName(%q) = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidName) {
				t.Errorf("ValidateName(%q) = %v, want it to wrap ErrInvalidName", tt.in, err)
			}
		})
	}
}

func TestLocalSecret(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "from-file", "file-value\n")
	writeFile(t, dir, "crlf-file", "crlf-value\r\n")
	writeFile(t, dir, "two-newlines", "keep-one\n\n")
	writeFile(t, dir, "shadowed", "file-loses\n")
	writeFile(t, dir, "file-over-env", "file-wins")
	env := map[string]string{
		"RS_FROM_ENV":       "env-value",
		"RS_FILE_OVER_ENV":  "env-loses",
		"RS_EMPTY_ENV":      "",
		"OTHER_UNPREFIXED":  "never",
		"RS_MIXED_CASE_ENV": "env-mixed",
	}
	l, err := NewLocal(LocalOptions{
		Values:    map[string]string{"From-Map": "map-value", "shadowed": "map-wins"},
		Dir:       dir,
		EnvPrefix: "RS_",
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}

	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
	}{
		{name: "map", in: "From-Map", want: "map-value"},
		{name: "map is case-insensitive like Key Vault", in: "from-map", want: "map-value"},
		{name: "file, one newline trimmed", in: "from-file", want: "file-value"},
		{name: "file, CRLF trimmed", in: "crlf-file", want: "crlf-value"},
		{name: "file, only one newline trimmed", in: "two-newlines", want: "keep-one\n"},
		{name: "map before file", in: "shadowed", want: "map-wins"},
		{name: "file before env", in: "file-over-env", want: "file-wins"},
		{name: "env", in: "from-env", want: "env-value"},
		{name: "env name is upper-cased", in: "Mixed-Case-Env", want: "env-mixed"},
		{name: "empty env is missing", in: "empty-env", wantErr: ErrNotFound},
		{name: "env needs the prefix", in: "other-unprefixed", wantErr: ErrNotFound},
		{name: "missing", in: "nope", wantErr: ErrNotFound},
		{name: "invalid name", in: "../from-file", wantErr: ErrInvalidName},
		{name: "underscore invalid", in: "from_env", wantErr: ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Secret(context.Background(), tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Secret(%q) = %q, %v; want error %v", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Secret(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNewLocalRejectsBadNames(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
	}{
		{name: "invalid character", values: map[string]string{"bad_name": "v"}},
		{name: "case duplicate", values: map[string]string{"dup": "a", "DUP": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLocal(LocalOptions{Values: tt.values})
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("NewLocal(%d values) = %v, want ErrInvalidName", len(tt.values), err)
			}
		})
	}
}

func TestLocalFileErrorsAreNotMissing(t *testing.T) {
	dir := t.TempDir()
	// A directory where a secret file should be is misconfiguration, not
	// absence: falling through to the environment would hide it.
	if err := os.Mkdir(filepath.Join(dir, "is-a-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(LocalOptions{Dir: dir, EnvPrefix: "RS_", LookupEnv: func(string) (string, bool) { return "env", true }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Secret(context.Background(), "is-a-dir")
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Secret(dir entry) = %q, %v; want a read error that is not ErrNotFound", got, err)
	}
}

func TestLocalMissingDirIsNotFound(t *testing.T) {
	l, err := NewLocal(LocalOptions{Dir: filepath.Join(t.TempDir(), "absent")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Secret(context.Background(), "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Secret with missing dir = %v, want ErrNotFound", err)
	}
}

func TestLocalCanceledContext(t *testing.T) {
	l, err := NewLocal(LocalOptions{Values: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Secret(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Secret(canceled ctx) = %v, want context.Canceled", err)
	}
}

func TestLocalCopiesValues(t *testing.T) {
	m := map[string]string{"a": "before"}
	l, err := NewLocal(LocalOptions{Values: m})
	if err != nil {
		t.Fatal(err)
	}
	m["a"] = "after"
	if got, _ := l.Secret(context.Background(), "a"); got != "before" {
		t.Fatalf("Secret(a) after caller changed map = %q, want %q", got, "before")
	}
}

// TestLocalNeverPrintsValues formats a Local every way fmt can, as a pointer
// and as a value, and checks no secret value appears.
func TestLocalNeverPrintsValues(t *testing.T) {
	const value = "s3cr3t-VALUE"
	l, err := NewLocal(LocalOptions{
		Values:    map[string]string{"graph-secret": value},
		EnvPrefix: "RS_",
		LookupEnv: func(string) (string, bool) { return value, true },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for _, arg := range []any{l, *l} {
			out := fmt.Sprintf(verb, arg)
			if strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) {
				t.Errorf("Sprintf(%q, %T) = %q, leaks the secret", verb, arg, out)
			}
		}
	}
	if got, want := l.String(), "secrets.Local(1 in memory, env RS_*)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// Errors name the secret and where it was looked for, never a value.
	_, err = l.Secret(context.Background(), "bad_name")
	if err == nil || strings.Contains(err.Error(), value) {
		t.Errorf("Secret(bad_name) error = %v, want an error without the value", err)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
