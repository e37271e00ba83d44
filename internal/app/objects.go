package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/classplan"
	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/tenant"
)

var _ handlers.ObjectChecker = graphTenants{}

// UserExists checks a manual link's target in the customer's own tenant,
// through the same per-tenant Graph client the sync uses.
func (t graphTenants) UserExists(ctx context.Context, c tenant.Customer, objectID string) (bool, error) {
	client, err := t.customerClient(ctx, c)
	if err != nil {
		return false, err
	}
	return client.UserExists(ctx, objectID)
}

// customerClient is the customer's own tenant's Graph client.
func (t graphTenants) customerClient(ctx context.Context, c tenant.Customer) (*graph.Client, error) {
	if t.factory == nil {
		return nil, fmt.Errorf("customer %s: graph is not configured", c.ID)
	}
	if c.TenantID == "" {
		return nil, fmt.Errorf("customer %s has no tenant id", c.ID)
	}
	client, err := t.factory.Client(ctx, c.TenantID)
	if err != nil {
		return nil, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	return client, nil
}

// customerClient makes the customer's simulated tenant on first use, as
// Directory does.
func (t simTenants) customerClient(ctx context.Context, c tenant.Customer) (*graph.Client, error) {
	if err := t.sim.customerTenant(ctx, c); err != nil {
		return nil, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	return t.graphTenants.customerClient(ctx, c)
}

// customerClients opens a customer's tenant: graphTenants or simTenants.
type customerClients interface {
	customerClient(ctx context.Context, c tenant.Customer) (*graph.Client, error)
}

// FindFunc finds the tenant object a manual link or a match file's row
// names, through the customer's Graph client; its answers are handlers'
// ErrObjectNotFound, ErrObjectWrongKind, ErrObjectAmbiguous and
// ErrTenantRefusesKind beside failures to reach the tenant.
type FindFunc func(ctx context.Context, c *graph.Client, ref string) (handlers.FoundObject, error)

// findUser finds a user by object id only.
func findUser(ctx context.Context, c *graph.Client, ref string) (handlers.FoundObject, error) {
	ok, err := c.UserExists(ctx, ref)
	switch {
	case err != nil:
		return handlers.FoundObject{}, err
	case !ok:
		return handlers.FoundObject{}, handlers.ErrObjectNotFound
	}
	return handlers.FoundObject{ID: ref}, nil
}

// findClass finds an education class by its group's id, email address or
// mailNickname.
func findClass(ctx context.Context, c *graph.Client, ref string) (handlers.FoundObject, error) {
	g, err := c.FindClass(ctx, ref)
	obj := handlers.FoundObject{ID: g.ID, DisplayName: g.DisplayName, Mail: g.Mail, MailNickname: g.MailNickname}
	switch {
	case err == nil:
		return obj, nil
	case errors.Is(err, graph.ErrNoSuchObject):
		return obj, handlers.ErrObjectNotFound
	case errors.Is(err, graph.ErrNotAClass):
		return obj, fmt.Errorf("%w: %w", handlers.ErrObjectWrongKind, err)
	case errors.Is(err, graph.ErrAmbiguous):
		return obj, handlers.ErrObjectAmbiguous
	case errors.Is(err, classplan.ErrNotEducation):
		return obj, fmt.Errorf("%w: %w", handlers.ErrTenantRefusesKind, err)
	}
	return obj, err
}

// tenantObjects is the API's object lookup: each entity kind's Find,
// in the customer's own tenant.
type tenantObjects struct {
	tenants customerClients
	kinds   []EntityKind
}

var (
	_ handlers.ObjectLookup = tenantObjects{}
	_ handlers.ObjectFinder = tenantObjects{}
)

func (o tenantObjects) FindObject(ctx context.Context, c tenant.Customer, kind, ref string) (handlers.FoundObject, error) {
	var find FindFunc
	for _, k := range o.kinds {
		if k.LinkKind == kind && k.Find != nil {
			find = k.Find
		}
	}
	if find == nil {
		return handlers.FoundObject{}, fmt.Errorf("looking up a %s in the tenant: %w", kind, handlers.ErrUnsupportedKind)
	}
	client, err := o.tenants.customerClient(ctx, c)
	if err != nil {
		return handlers.FoundObject{}, err
	}
	return find(ctx, client, ref)
}

// ObjectExists is FindObject by object id alone: a manual link names the
// object's id, never its name.
func (o tenantObjects) ObjectExists(ctx context.Context, c tenant.Customer, kind, objectID string) (bool, error) {
	obj, err := o.FindObject(ctx, c, kind, objectID)
	switch {
	case errors.Is(err, handlers.ErrObjectNotFound), errors.Is(err, handlers.ErrObjectWrongKind),
		errors.Is(err, handlers.ErrObjectAmbiguous), errors.Is(err, handlers.ErrTenantRefusesKind):
		return false, nil
	case err != nil:
		return false, err
	}
	return strings.EqualFold(obj.ID, objectID), nil
}
