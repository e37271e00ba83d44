package tablestore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/blobstore/blobtest"
	"github.com/rostersync/rostersync/internal/state/storetest"
	"github.com/rostersync/rostersync/internal/state/tablestore"
)

// newBackend returns a backend whose tables carry a random prefix, so that
// tests sharing one Azurite never see each other's rows, and deletes its
// tables when the test ends.
func newBackend(t *testing.T, cs string, opts tablestore.Options) *tablestore.Backend {
	t.Helper()
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	prefix := []byte{'t'}
	for range 10 {
		prefix = append(prefix, alnum[rand.IntN(len(alnum))])
	}
	opts.TablePrefix = string(prefix)
	b, err := tablestore.FromConnectionString(cs, opts)
	if err != nil {
		t.Fatalf("FromConnectionString: %v", err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.DeleteTables(ctx); err != nil {
			t.Errorf("delete test tables: %v", err)
		}
	})
	return b
}

func TestContract(t *testing.T) {
	cs := blobtest.TablesConnectionString(t)
	storetest.Run(t, func(t *testing.T) state.Backend { return newBackend(t, cs, tablestore.Options{}) })
}

// countRequests is a pipeline policy counting the requests that reach the
// transport.
type countRequests struct{ n atomic.Int64 }

func (c *countRequests) Do(req *policy.Request) (*http.Response, error) {
	c.n.Add(1)
	return req.Next()
}

// TestInvalidInputSendsNothing proves that the checks run before any
// request: Azurite would accept some of these, Azure would not.
func TestInvalidInputSendsNothing(t *testing.T) {
	cs := blobtest.TablesConnectionString(t)
	ctx := t.Context()
	counter := &countRequests{}
	b := newBackend(t, cs, tablestore.Options{Client: &aztables.ClientOptions{
		ClientOptions: azcore.ClientOptions{PerCallPolicies: []policy.Policy{counter}},
	}})
	tb, err := b.Table(ctx, "invalid")
	if err != nil {
		t.Fatal(err)
	}
	before := counter.n.Load()
	big := strings.Repeat("x", state.MaxPropertyBytes+1)
	many := make([]state.Op, state.MaxTransactionOps+1)
	for i := range many {
		many[i] = state.Op{Kind: state.OpInsert, Entity: state.Entity{PartitionKey: "p", RowKey: strings.Repeat("r", i+1)}}
	}
	attempts := map[string]func() error{
		"insert with a slash in the key": func() error {
			_, err := tb.Insert(ctx, state.Entity{PartitionKey: "a/b", RowKey: "r"})
			return err
		},
		"get with U+0085 in the key": func() error { _, err := tb.Get(ctx, "p", "a\u0085b"); return err },
		"delete with DEL in the key": func() error { return tb.Delete(ctx, "p", "a\x7f", state.ETagAny) },
		"upsert of a too large property": func() error {
			_, err := tb.Upsert(ctx, state.Entity{PartitionKey: "p", RowKey: "r", Props: map[string]string{"V": big}})
			return err
		},
		"update without etag": func() error {
			_, err := tb.Update(ctx, state.Entity{PartitionKey: "p", RowKey: "r"})
			return err
		},
		"list with a hash in the partition": func() error { _, err := tb.List(ctx, state.Query{PartitionKey: "a#b"}); return err },
		"transaction of 101 operations":     func() error { return tb.Transact(ctx, many) },
		"transaction over two partitions": func() error {
			return tb.Transact(ctx, []state.Op{
				{Kind: state.OpInsert, Entity: state.Entity{PartitionKey: "p", RowKey: "a"}},
				{Kind: state.OpInsert, Entity: state.Entity{PartitionKey: "q", RowKey: "a"}},
			})
		},
	}
	for name, do := range attempts {
		if err := do(); err == nil {
			t.Errorf("%s: nil error, want it refused", name)
		}
	}
	if sent := counter.n.Load() - before; sent != 0 {
		t.Errorf("%d requests reached the service for invalid input, want 0", sent)
	}
}

// TestTransactionFailureDetails checks what a failed transaction reports:
// the sentinel, the service's code, the index of the failed operation, and
// the SDK's error underneath.
func TestTransactionFailureDetails(t *testing.T) {
	cs := blobtest.TablesConnectionString(t)
	ctx := t.Context()
	tb, err := newBackend(t, cs, tablestore.Options{}).Table(ctx, "txdetails")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Insert(ctx, state.Entity{PartitionKey: "p", RowKey: "taken"}); err != nil {
		t.Fatal(err)
	}
	err = tb.Transact(ctx, []state.Op{
		{Kind: state.OpInsert, Entity: state.Entity{PartitionKey: "p", RowKey: "a"}},
		{Kind: state.OpUpsert, Entity: state.Entity{PartitionKey: "p", RowKey: "b"}},
		{Kind: state.OpInsert, Entity: state.Entity{PartitionKey: "p", RowKey: "taken"}},
	})
	if !errors.Is(err, state.ErrExists) {
		t.Fatalf("Transact = %v, want ErrExists", err)
	}
	var se *tablestore.ServiceError
	if !errors.As(err, &se) || se.Code != string(aztables.EntityAlreadyExists) || se.Op != 2 || se.StatusCode != http.StatusConflict {
		t.Errorf("Transact error = %#v, want code EntityAlreadyExists, HTTP 409, operation 2", se)
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Errorf("Transact error does not unwrap to *azcore.ResponseError: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("Transact error spans several lines, want one: %q", err)
	}
}

func TestConstructors(t *testing.T) {
	if _, err := tablestore.FromConnectionString("UseDevelopmentStorage=true"); err != nil {
		t.Errorf("FromConnectionString(UseDevelopmentStorage=true): %v", err)
	}
	if _, err := tablestore.FromConnectionString("usedevelopmentstorage=TRUE;"); err != nil {
		t.Errorf("FromConnectionString(usedevelopmentstorage=TRUE;): %v", err)
	}
	if _, err := tablestore.FromConnectionString("not a connection string"); err == nil {
		t.Errorf("FromConnectionString(garbage) = nil error, want an error")
	}
	if _, err := tablestore.FromConnectionString(tablestore.DevelopmentConnectionString, tablestore.Options{TablePrefix: "1bad"}); err == nil {
		t.Errorf("FromConnectionString with prefix 1bad = nil error, want an error")
	}
	if _, err := tablestore.FromConnectionString(tablestore.DevelopmentConnectionString, tablestore.Options{}, tablestore.Options{}); err == nil {
		t.Errorf("FromConnectionString with two Options = nil error, want an error")
	}
	if _, err := tablestore.New("https://account.table.core.windows.net/", fakeCredential{}); err != nil {
		t.Errorf("New: %v", err)
	}
}

type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake", ExpiresOn: time.Now().Add(time.Hour)}, nil
}
