package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/secrets"
	"github.com/rostersync/rostersync/internal/state/embedded"
)

// flakySource is a secret source that is down, or lacks the key, until
// told otherwise.
type flakySource struct {
	mu    sync.Mutex
	err   error // returned while set
	key   string
	calls int
}

func (f *flakySource) Secret(ctx context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	return f.key, nil
}

func (f *flakySource) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// TestDependencyDownAtStartThenUp: Key Vault down when the handler starts
// fails the calls that need it, transiently, and the first call after it
// is back succeeds, with no restart.
func TestDependencyDownAtStartThenUp(t *testing.T) {
	b, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	src := &flakySource{err: fmt.Errorf("dial tcp: connection refused"), key: credentials.NewKey()}
	v := newLazyVault(src, b)
	v.l.delay = time.Millisecond
	creds := []credentials.Credential{{Key: "p1", UPN: "p1@school.example", Password: "x"}}

	err = v.PutCredentials(context.Background(), "oakfield", "r1", creds)
	var transient interface{ Transient() bool }
	if !errors.Is(err, handlers.ErrDependencyUnavailable) || !errors.As(err, &transient) || !transient.Transient() {
		t.Fatalf("PutCredentials with Key Vault down = %v, want a transient DependencyError", err)
	}
	if src.calls != 3 {
		t.Errorf("Key Vault asked %d times, want 3 (quick retries within the call)", src.calls)
	}

	src.set(nil) // Key Vault is back
	if err := v.PutCredentials(context.Background(), "oakfield", "r1", creds); err != nil {
		t.Fatalf("PutCredentials after Key Vault came back = %v, want success without a restart", err)
	}
	if n, err := (func() (int, error) {
		vault, _ := v.l.get(context.Background())
		return vault.Count(context.Background(), "oakfield", "r1")
	})(); err != nil || n != 1 {
		t.Errorf("stored credentials = %d, %v, want 1", n, err)
	}
}

// TestMissingKeyIsNotTransient: a secret that does not exist refuses
// account creation as a missing store does, and is looked up again later.
func TestMissingKeyIsNotTransient(t *testing.T) {
	b, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	src := &flakySource{err: fmt.Errorf("secret credentials-key: %w", secrets.ErrNotFound), key: credentials.NewKey()}
	v := newLazyVault(src, b)
	err = v.PutCredentials(context.Background(), "oakfield", "r1", nil)
	if !errors.Is(err, apply.ErrNoCredentialStore) || errors.Is(err, handlers.ErrDependencyUnavailable) || src.calls != 1 {
		t.Fatalf("PutCredentials without the key = %v after %d lookups, want ErrNoCredentialStore after one", err, src.calls)
	}
	src.set(nil)
	if err := v.PutCredentials(context.Background(), "oakfield", "r1", nil); err != nil {
		t.Errorf("PutCredentials once the key exists = %v", err)
	}
}

// TestServeIsReadyBeforeKeyVault: with a Key Vault nobody answers, serve
// still answers GET / at once, and its INFO lines go to stdout only.
func TestServeIsReadyBeforeKeyVault(t *testing.T) {
	port := freePort(t)
	env := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": port, "StateDir": t.TempDir(), "KeyVaultUri": "https://127.0.0.1:1/", "GraphAuthMode": "secret"}
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- run(ctx, []string{"serve"}, environment{getenv: func(k string) string { return env[k] }, stdout: &stdout, stderr: &stderr})
	}()
	var resp *http.Response
	var err error
	for time.Since(start) < 5*time.Second {
		if resp, err = http.Get("http://127.0.0.1:" + port + "/"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET / never answered: %v; stderr: %s", err, stderr.String())
	}
	resp.Body.Close()
	if waited := time.Since(start); resp.StatusCode != http.StatusOK || waited > 2*time.Second {
		t.Errorf("GET / = %d after %s, want 200 at once", resp.StatusCode, waited)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v", err)
	}
	if strings.Contains(stderr.String(), "level=INFO") || !strings.Contains(stdout.String(), "custom handler listening") {
		t.Errorf("INFO lines must go to stdout only:\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
