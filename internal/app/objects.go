package app

import (
	"context"
	"fmt"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/tenant"
)

var _ handlers.ObjectChecker = graphTenants{}

// UserExists checks a manual link's target in the customer's own tenant,
// through the same per-tenant Graph client the sync uses.
func (t graphTenants) UserExists(ctx context.Context, c tenant.Customer, objectID string) (bool, error) {
	if t.factory == nil {
		return false, fmt.Errorf("customer %s: graph is not configured", c.ID)
	}
	if c.TenantID == "" {
		return false, fmt.Errorf("customer %s has no tenant id", c.ID)
	}
	client, err := t.factory.Client(ctx, c.TenantID)
	if err != nil {
		return false, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	return client.UserExists(ctx, objectID)
}
