package app

import (
	"context"
	"fmt"
	"github.com/rostersync/rostersync/internal/classplan"

	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/tenant"
)

// graphTenants opens customers' tenants through the Graph client factory:
// one client (and so one token cache and connection pool) per tenant, and
// an executor over it for each run step.
type graphTenants struct {
	factory graphClients
	exec    graph.ExecutorOptions
}

var _ reconcile.Tenants = graphTenants{}

// graphClients opens one customer tenant's Graph client: *graph.Factory,
// or the lazily opened one serve uses.
type graphClients interface {
	Client(ctx context.Context, tenantID string) (*graph.Client, error)
}

// Forget drops the tenant's Graph client and cached tokens when the
// factory keeps any (a removed configuration).
func (t graphTenants) Forget(tenantID string) {
	if f, ok := t.factory.(interface{ Forget(string) }); ok {
		f.Forget(tenantID)
	}
}

type graphDirectory struct {
	*graph.Client
	*graph.Executor
}

// ClassroomsSnapshot paces its Teams reads in Graph's time: the
// executor's clock scale (a simulator's), 1 against Graph.
func (d graphDirectory) ClassroomsSnapshot(ctx context.Context) (classplan.Directory, error) {
	return d.Client.ClassroomsSnapshotAt(ctx, d.Executor.TimeScale())
}

func (t graphTenants) Directory(ctx context.Context, c tenant.Customer) (reconcile.Directory, error) {
	if t.factory == nil {
		return nil, fmt.Errorf("customer %s: graph is not configured", c.ID)
	}
	if c.TenantID == "" {
		return nil, fmt.Errorf("customer %s has no tenant id: admin consent has not been recorded", c.ID)
	}
	if c.Status == tenant.StatusConsentRevoked {
		return nil, errConsentRevoked(c)
	}
	client, err := t.factory.Client(ctx, c.TenantID)
	if err != nil {
		return nil, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	return graphDirectory{Client: client, Executor: graph.NewExecutor(client, t.exec)}, nil
}

// simTenants are customers' tenants in the tenant simulator, each created
// there on first use with the customer's domains, so a customer saved
// through the API can be synced at once.
type simTenants struct {
	graphTenants
	sim *Simulator
}

var _ reconcile.Tenants = simTenants{}

func (t simTenants) Directory(ctx context.Context, c tenant.Customer) (reconcile.Directory, error) {
	if err := t.sim.customerTenant(ctx, c); err != nil {
		return nil, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	return t.graphTenants.Directory(ctx, c)
}

func (t simTenants) UserExists(ctx context.Context, c tenant.Customer, objectID string) (bool, error) {
	client, err := t.customerClient(ctx, c)
	if err != nil {
		return false, err
	}
	return client.UserExists(ctx, objectID)
}
