package credentials

import (
	"context"
	"errors"
	"fmt"

	"github.com/rostersync/rostersync/internal/state"
)

// DestroyCustomer deletes every sealed credential of the customer, of every
// run, with the members and index rows of its exports: "Remove
// configuration" leaves no initial password of the school behind. It
// returns how many sealed credentials it destroyed and is idempotent.
func (v *Vault) DestroyCustomer(ctx context.Context, customerID string) (int, error) {
	t, err := v.backend.Table(ctx, TableCredentials)
	if err != nil {
		return 0, fmt.Errorf("open credentials table: %w", err)
	}
	rows, err := t.List(ctx, state.Query{})
	if err != nil {
		return 0, fmt.Errorf("list credentials: %w", err)
	}
	var ops []state.Op
	destroyed := 0
	for _, e := range rows {
		key := e.PartitionKey
		if key == exportsPK {
			key = e.RowKey // index rows name the customer in their row key
		}
		parts, err := state.DecodeKey(key)
		if err != nil || len(parts) == 0 || parts[0] != customerID {
			continue
		}
		if _, sealed := e.Props[propSealed]; sealed && len(parts) == 2 {
			destroyed++
		}
		ops = append(ops, state.Op{Kind: state.OpDelete, Entity: state.Entity{PartitionKey: e.PartitionKey, RowKey: e.RowKey, ETag: state.ETagAny}})
	}
	for _, chunk := range state.Chunk(ops) {
		if err := t.Transact(ctx, chunk); err != nil && !errors.Is(err, state.ErrNotFound) {
			return 0, fmt.Errorf("destroy credentials of customer %s: %w", customerID, err)
		}
	}
	return destroyed, nil
}
