package graph

import (
	"context"
	"fmt"
	"github.com/rostersync/rostersync/internal/classplan"
	"maps"
	"slices"
	"strings"
	"sync"

	graphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/domains"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/userplan"
)

// accountProps reads the mappable user properties (tenant.AccountProperties)
// from the SDK model. TestAccountPropsCoverMappings keeps the two in step.
var accountProps = map[string]func(models.Userable) *string{
	"displayName":    models.Userable.GetDisplayName,
	"givenName":      models.Userable.GetGivenName,
	"surname":        models.Userable.GetSurname,
	"jobTitle":       models.Userable.GetJobTitle,
	"department":     models.Userable.GetDepartment,
	"employeeId":     models.Userable.GetEmployeeId,
	"employeeType":   models.Userable.GetEmployeeType,
	"companyName":    models.Userable.GetCompanyName,
	"officeLocation": models.Userable.GetOfficeLocation,
}

// snapshotSelect is the $select of the snapshot: what the planner matches
// on plus the mappable properties, and nothing else, so a page costs one
// resource unit and stays small.
var snapshotSelect = append([]string{"id", "userPrincipalName", "mail", "proxyAddresses", "accountEnabled"},
	slices.Sorted(maps.Keys(accountProps))...)

// snapshotPageSize is Graph's largest page for users: 1,650 users take two
// requests.
const snapshotPageSize = 999

// Snapshot reads the tenant as the users planner needs it: every user, with
// the matching keys and mappable properties, and the verified domains. It
// makes ⌈users/999⌉ requests for users and one for domains, the two reads
// running side by side. Accounts are sorted by id, domains by name.
//
// Reads keep the SDK retry middleware (429/503/504 with Retry-After):
// unlike $batch, a plain GET's status is the status that matters.
func (c *Client) Snapshot(ctx context.Context) (userplan.Directory, error) {
	var (
		wg      sync.WaitGroup
		doms    []string
		domsErr error
	)
	wg.Go(func() { doms, domsErr = c.verifiedDomains(ctx) })
	accounts, err := c.accounts(ctx)
	wg.Wait()
	if err != nil {
		return userplan.Directory{}, fmt.Errorf("snapshot of tenant %s: list users: %w", c.tenantID, classify(err))
	}
	if domsErr != nil {
		return userplan.Directory{}, fmt.Errorf("snapshot of tenant %s: list domains: %w", c.tenantID, classify(domsErr))
	}
	return userplan.Directory{Accounts: accounts, Domains: doms}, nil
}

func (c *Client) accounts(ctx context.Context) ([]userplan.Account, error) {
	top := int32(snapshotPageSize)
	resp, err := c.sdk.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: snapshotSelect, Top: &top},
	})
	if err != nil {
		return nil, err
	}
	it, err := graphcore.NewPageIterator[models.Userable](resp, c.adapter, models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, fmt.Errorf("page iterator: %w", err)
	}
	var out []userplan.Account
	var missingID int
	err = it.Iterate(ctx, func(u models.Userable) bool {
		a, ok := accountOf(u)
		if !ok {
			missingID++
			return true
		}
		out = append(out, a)
		return true
	})
	if err != nil {
		return nil, err
	}
	if missingID > 0 {
		// A user without an id cannot be matched or written; Graph never
		// sends one, so this is a broken response, not a tenant quirk.
		return nil, fmt.Errorf("%d users without an id", missingID)
	}
	slices.SortFunc(out, func(a, b userplan.Account) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// accountOf maps one SDK user; ok is false when it has no id.
func accountOf(u models.Userable) (userplan.Account, bool) {
	id := deref(u.GetId())
	if id == "" {
		return userplan.Account{}, false
	}
	a := userplan.Account{
		ID:                id,
		UserPrincipalName: deref(u.GetUserPrincipalName()),
		Mail:              deref(u.GetMail()),
		ProxyAddresses:    slices.Clone(u.GetProxyAddresses()),
		AccountEnabled:    u.GetAccountEnabled() != nil && *u.GetAccountEnabled(),
	}
	for name, get := range accountProps {
		if v := deref(get(u)); v != "" {
			if a.Props == nil {
				a.Props = make(map[string]string, len(accountProps))
			}
			a.Props[name] = v
		}
	}
	return a, true
}

// verifiedDomains lists the tenant's verified domain names, sorted.
func (c *Client) verifiedDomains(ctx context.Context) ([]string, error) {
	resp, err := c.sdk.Domains().Get(ctx, &domains.DomainsRequestBuilderGetRequestConfiguration{})
	if err != nil {
		return nil, err
	}
	it, err := graphcore.NewPageIterator[models.Domainable](resp, c.adapter, models.CreateDomainCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, fmt.Errorf("page iterator: %w", err)
	}
	var out []string
	err = it.Iterate(ctx, func(d models.Domainable) bool {
		if v := d.GetIsVerified(); v != nil && *v && deref(d.GetId()) != "" {
			out = append(out, *d.GetId())
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// createdKeys is, per plan kind, the property a create's deterministic key
// is and how objects holding a value of it are listed (ids only).
var createdKeys = map[plan.Kind]struct {
	property string
	list     func(ctx context.Context, c *Client, filter string) ([]*string, error)
}{
	plan.KindUser: {"userPrincipalName", func(ctx context.Context, c *Client, filter string) ([]*string, error) {
		resp, err := c.sdk.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id"}},
		})
		if err != nil {
			return nil, err
		}
		var ids []*string
		for _, u := range resp.GetValue() {
			ids = append(ids, u.GetId())
		}
		return ids, nil
	}},
	plan.KindGroup: {"mailNickname", func(ctx context.Context, c *Client, filter string) ([]*string, error) {
		resp, err := c.sdk.Groups().Get(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id"}},
		})
		if err != nil {
			return nil, err
		}
		var ids []*string
		for _, g := range resp.GetValue() {
			ids = append(ids, g.GetId())
		}
		return ids, nil
	}},
}

// FindCreated finds the object a create of kind may have made, by its
// deterministic key (a user's userPrincipalName, a group's mailNickname).
// It filters rather than GETs by key, so "none" is an empty page, not an
// error to interpret.
func (c *Client) FindCreated(ctx context.Context, kind plan.Kind, key string) (string, bool, error) {
	if kind == classplan.Kind {
		kind = plan.KindGroup // a class's group has the class's id and mailNickname
	}
	k, ok := createdKeys[kind]
	if !ok {
		return "", false, fmt.Errorf("find created %s: no lookup for this kind", kind)
	}
	filter := k.property + " eq '" + strings.ReplaceAll(key, "'", "''") + "'"
	found, err := k.list(ctx, c, filter)
	if err != nil {
		return "", false, fmt.Errorf("find %s by %s: %w", kind, k.property, classify(err))
	}
	switch {
	case len(found) == 0:
		return "", false, nil
	case len(found) > 1:
		return "", false, fmt.Errorf("find %s by %s: %d objects have it", kind, k.property, len(found))
	}
	id := deref(found[0])
	return id, id != "", nil
}
