package credentials

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
)

// failingBackend fails chosen Transact calls, to stop an acknowledgement
// between its transactions.
type failingBackend struct {
	state.Backend
	// fail is asked before each transaction; a non-nil error is returned
	// instead of running it.
	fail func(ops []state.Op) error
}

func (b failingBackend) Table(ctx context.Context, name string) (state.Table, error) {
	t, err := b.Backend.Table(ctx, name)
	return failingTable{Table: t, fail: b.fail}, err
}

type failingTable struct {
	state.Table
	fail func(ops []state.Op) error
}

func (t failingTable) Transact(ctx context.Context, ops []state.Op) error {
	if t.fail != nil {
		if err := t.fail(ops); err != nil {
			return err
		}
	}
	return t.Table.Transact(ctx, ops)
}

// putMany seals n credentials for run r1 of oak; more than a hundred makes
// every write and delete take several transactions.
func putMany(t *testing.T, v *Vault, n int) {
	t.Helper()
	creds := make([]Credential, n)
	for i := range creds {
		k := fmt.Sprintf("p%04d", i)
		creds[i] = Credential{Key: k, UPN: k + "@oak.example", Password: "pw-" + k}
	}
	if err := v.PutCredentials(context.Background(), "oak", "r1", creds); err != nil {
		t.Fatal(err)
	}
}

func newTestVault(t *testing.T, b state.Backend, opts ...Option) *Vault {
	t.Helper()
	key, _ := ParseKey(NewKey())
	v, err := NewVault(b, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Two (here eight) exports at once used to delete rows under each other
// and answer 404 with most passwords gone.
func TestConcurrentExportsGetTheSameIDAndLoseNothing(t *testing.T) {
	b, _ := embedded.Open("")
	v := newTestVault(t, b)
	const people = 250
	putMany(t, v, people)
	ctx := context.Background()
	const exporters = 8
	got := make([]Export, exporters)
	errs := make([]error, exporters)
	var wg sync.WaitGroup
	for i := range exporters {
		wg.Go(func() { got[i], errs[i] = v.Export(ctx, "oak", "r1", nil) })
	}
	wg.Wait()
	for i := range exporters {
		if errs[i] != nil {
			t.Fatalf("exporter %d: %v", i, errs[i])
		}
		if got[i].ID == "" || got[i].ID != got[0].ID || len(got[i].Credentials) != people {
			t.Fatalf("exporter %d: id %q with %d rows; exporter 0: id %q", i, got[i].ID, len(got[i].Credentials), got[0].ID)
		}
		for j, c := range got[i].Credentials {
			if c != got[0].Credentials[j] {
				t.Fatalf("exporter %d row %d differs", i, j)
			}
		}
	}
	if n, _ := v.Count(ctx, "oak", "r1"); n != people {
		t.Fatalf("after exporting, %d credentials remain, want all %d", n, people)
	}
	again, err := v.ExportByID(ctx, "oak", "r1", got[0].ID)
	if err != nil || len(again.Credentials) != people {
		t.Fatalf("fetch export again = %d rows, %v", len(again.Credentials), err)
	}
	// Acknowledging concurrently destroys each row once, and all of them.
	var destroyed atomic.Int64
	for range 3 {
		wg.Go(func() {
			n, err := v.Acknowledge(ctx, "oak", "r1", got[0].ID)
			if err != nil {
				t.Errorf("acknowledge: %v", err)
			}
			destroyed.Add(int64(n))
		})
	}
	wg.Wait()
	if n, _ := v.Count(ctx, "oak", "r1"); n != 0 || destroyed.Load() != people {
		t.Errorf("after acknowledging: %d remain, %d reported destroyed; want 0 and %d", n, destroyed.Load(), people)
	}
	if _, err := v.ExportByID(ctx, "oak", "r1", got[0].ID); !errors.Is(err, ErrAcknowledged) {
		t.Errorf("fetch of an acknowledged export = %v, want ErrAcknowledged", err)
	}
}

func TestAcknowledgeStoppedBetweenTransactionsFinishesOnRetry(t *testing.T) {
	mem, _ := embedded.Open("")
	var deletes atomic.Int32
	injected := errors.New("injected: connection reset")
	b := failingBackend{Backend: mem, fail: func(ops []state.Op) error {
		if ops[0].Kind == state.OpDelete && ops[0].Entity.PartitionKey == state.EncodeKey("oak", "r1") && deletes.Add(1) == 2 {
			return injected
		}
		return nil
	}}
	v := newTestVault(t, b)
	const people = 250
	putMany(t, v, people)
	ctx := context.Background()
	ex, err := v.Export(ctx, "oak", "r1", nil)
	if err != nil || len(ex.Credentials) != people {
		t.Fatalf("export = %d rows, %v", len(ex.Credentials), err)
	}
	n, err := v.Acknowledge(ctx, "oak", "r1", ex.ID)
	if !errors.Is(err, injected) || n != state.MaxTransactionOps {
		t.Fatalf("acknowledge with the second transaction failing = %d, %v; want %d and the injected error", n, err, state.MaxTransactionOps)
	}
	left := people - state.MaxTransactionOps
	if c, _ := v.Count(ctx, "oak", "r1"); c != left {
		t.Fatalf("%d credentials remain, want %d", c, left)
	}
	// What was not destroyed can still be fetched, by the export's id and
	// by a new export.
	again, err := v.ExportByID(ctx, "oak", "r1", ex.ID)
	if err != nil || len(again.Credentials) != left {
		t.Fatalf("fetch the export again = %d rows, %v; want %d", len(again.Credentials), err, left)
	}
	fresh, err := v.Export(ctx, "oak", "r1", nil)
	if err != nil || len(fresh.Credentials) != left || fresh.ID == ex.ID {
		t.Fatalf("new export = %d rows id %s, %v; want %d under a new id", len(fresh.Credentials), fresh.ID, err, left)
	}
	if n, err := v.Acknowledge(ctx, "oak", "r1", ex.ID); err != nil || n != left {
		t.Fatalf("retried acknowledge = %d, %v; want %d", n, err, left)
	}
	if c, _ := v.Count(ctx, "oak", "r1"); c != 0 {
		t.Errorf("%d credentials remain after the retried acknowledge", c)
	}
	if n, err := v.Acknowledge(ctx, "oak", "r1", ex.ID); err != nil || n != 0 {
		t.Errorf("third acknowledge = %d, %v; want 0, nil (idempotent)", n, err)
	}
	if _, err := v.Acknowledge(ctx, "oak", "r1", "0123456789abcdef0123456789abcdef"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("acknowledge of an unknown export = %v, want ErrNotFound", err)
	}
}

// A password replaced after the export was never delivered: acknowledging
// the export must not destroy it.
func TestAcknowledgeKeepsAPasswordReplacedSinceTheExport(t *testing.T) {
	b, _ := embedded.Open("")
	v := newTestVault(t, b)
	ctx := context.Background()
	_ = v.PutCredential(ctx, "oak", "r1", "s1", "s1@oak.example", "old")
	_ = v.PutCredential(ctx, "oak", "r1", "s2", "s2@oak.example", "pw2")
	ex, _ := v.Export(ctx, "oak", "r1", nil)
	_ = v.PutCredential(ctx, "oak", "r1", "s1", "s1@oak.example", "new")
	if n, err := v.Acknowledge(ctx, "oak", "r1", ex.ID); err != nil || n != 1 {
		t.Fatalf("acknowledge = %d, %v; want 1", n, err)
	}
	rest, _ := v.Export(ctx, "oak", "r1", nil)
	if len(rest.Credentials) != 1 || rest.Credentials[0].Password != "new" {
		t.Errorf("after acknowledging, export = %+v; want the new s1 password", rest.Credentials)
	}
}

func TestExpiredExportsArePurged(t *testing.T) {
	b, _ := embedded.Open("")
	t0 := time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)
	now := t0
	v := newTestVault(t, b, WithExportTTL(24*time.Hour), WithClock(func() time.Time { return now }))
	ctx := context.Background()
	_ = v.PutCredential(ctx, "oak", "r1", "s1", "s1@oak.example", "pw1")
	_ = v.PutCredential(ctx, "oak", "r1", "s2", "s2@oak.example", "pw2")
	_ = v.PutCredential(ctx, "oak", "r2", "s3", "s3@oak.example", "pw3")
	ex, _ := v.Export(ctx, "oak", "r1", []string{"s1"})
	acked, _ := v.Export(ctx, "oak", "r2", nil)
	if !ex.Expires.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("expires %v, want a day after %v", ex.Expires, t0)
	}
	if _, err := v.Acknowledge(ctx, "oak", "r2", acked.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := v.Purge(ctx, t0.Add(23*time.Hour))
	if err != nil || rep.Exports != 0 || rep.Credentials != 0 {
		t.Fatalf("purge before expiry = %+v, %v; want nothing", rep, err)
	}
	now = t0.Add(2 * time.Hour)
	if again, _ := v.Export(ctx, "oak", "r1", []string{"s1"}); again.ID != ex.ID || !again.Expires.Equal(ex.Expires) {
		t.Errorf("export again before expiry: id %s expires %v; want %s %v", again.ID, again.Expires, ex.ID, ex.Expires)
	}
	rep, err = v.Purge(ctx, t0.Add(25*time.Hour))
	if err != nil || rep.Exports != 2 || rep.Credentials != 1 {
		t.Fatalf("purge after expiry = %+v, %v; want 2 exports (one acknowledged) and 1 credential", rep, err)
	}
	left, _ := v.Export(ctx, "oak", "r1", nil)
	if len(left.Credentials) != 1 || left.Credentials[0].Key != "s2" {
		t.Errorf("after the purge, run r1 holds %+v; want s2, never exported, only", left.Credentials)
	}
	if _, err := v.Acknowledge(ctx, "oak", "r1", ex.ID); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("acknowledge of a purged export = %v, want ErrNotFound", err)
	}
	// An expired export that the purge has not reached yet is not handed
	// out again.
	now = t0.Add(50 * time.Hour)
	if _, err := v.ExportByID(ctx, "oak", "r1", left.ID); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("fetch of an expired export = %v, want ErrNotFound", err)
	}
	if n, _ := v.Count(ctx, "oak", "r1"); n != 0 {
		t.Errorf("an expired export's credential survived: %d remain", n)
	}
}
