package app

import (
	"context"
	"errors"
	"fmt"
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
