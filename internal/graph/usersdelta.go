package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/rostersync/rostersync/internal/userplan"
)

// usersDeltaQuery is the $select of users/delta: the snapshot's own, so a
// round tracks exactly what the planner reads.
var usersDeltaQuery = "$select=" + strings.Join(snapshotSelect, ",")

// UsersSnapshotSince reads the tenant as Snapshot does, from a previous
// read: given the directory it returned and its cursor, it GETs the
// round's deltaLink and applies the users added, changed and removed
// since, so a night with no change costs a request for users and one for
// domains instead of a page per 999 users. With no cursor, an expired one
// (410 Gone after 7 days) or one it cannot use, it reads the whole tenant
// as Snapshot does, having first taken a deltaLink that starts now
// ($deltatoken=latest): a change made during the full read comes again in
// the next round, which is harmless, rather than never. Domains are read
// in full every time (one request). It returns the directory and the
// cursor of the next read.
func (c *Client) UsersSnapshotSince(ctx context.Context, prev userplan.Directory, cursor string) (userplan.Directory, string, error) {
	var (
		wg      sync.WaitGroup
		doms    []string
		domsErr error
	)
	wg.Go(func() { doms, domsErr = c.verifiedDomains(ctx) })
	accounts, next, err := c.usersSince(ctx, prev.Accounts, cursor)
	wg.Wait()
	if err != nil {
		return userplan.Directory{}, "", err
	}
	if domsErr != nil {
		return userplan.Directory{}, "", fmt.Errorf("snapshot of tenant %s: list domains: %w", c.tenantID, classify(domsErr))
	}
	return userplan.Directory{Accounts: accounts, Domains: doms}, next, nil
}

func (c *Client) usersSince(ctx context.Context, prev []userplan.Account, cursor string) ([]userplan.Account, string, error) {
	if link, ok := c.usableCursor(cursor, usersDeltaQuery, "/users/delta"); ok {
		accounts, next, err := c.usersDelta(ctx, prev, link, true)
		if !errors.Is(err, errResync) {
			return accounts, next, err
		}
	}
	// From now on: the round's link first, then everything as it is.
	_, next, err := c.usersDelta(ctx, nil, c.adapter.GetBaseUrl()+"/users/delta?"+usersDeltaQuery+"&$deltatoken=latest", false)
	if err != nil {
		return nil, "", err
	}
	accounts, err := c.accounts(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("snapshot of tenant %s: list users: %w", c.tenantID, classify(err))
	}
	return accounts, next, nil
}

// usersDelta pages a users/delta round from first, applying its items to
// prev (left untouched), and returns the accounts, sorted by id as
// Snapshot sorts them, with the round's cursor. An incremental round that
// cannot go on says errResync.
func (c *Client) usersDelta(ctx context.Context, prev []userplan.Account, first string, incremental bool) ([]userplan.Account, string, error) {
	byID := make(map[string]*userplan.Account, len(prev))
	for _, a := range prev {
		a.ProxyAddresses = slices.Clone(a.ProxyAddresses)
		if a.Props != nil {
			props := make(map[string]string, len(a.Props))
			for k, v := range a.Props {
				props[k] = v
			}
			a.Props = props
		}
		byID[strings.ToLower(a.ID)] = &a
	}
	deltaLink, err := c.deltaRound(ctx, "users", first, incremental, func(raw json.RawMessage) error { return mergeUser(byID, raw) })
	if err != nil {
		return nil, "", err
	}
	out := make([]userplan.Account, 0, len(byID))
	for _, a := range byID {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b userplan.Account) int { return strings.Compare(a.ID, b.ID) })
	return out, deltaCursor{Query: usersDeltaQuery, DeltaLink: deltaLink}.encode(), nil
}

// mergeUser applies one users/delta item: a removed user goes; any other
// takes the properties the item carries (a property absent from it, as
// with Prefer: return=minimal, keeps its value; null clears it), read as
// accountOf reads a listed user.
func mergeUser(byID map[string]*userplan.Account, raw json.RawMessage) error {
	var item map[string]json.RawMessage
	if err := json.Unmarshal(raw, &item); err != nil {
		return fmt.Errorf("users delta item: %w", err)
	}
	var id string
	if err := json.Unmarshal(item["id"], &id); err != nil || id == "" {
		return fmt.Errorf("users delta item without an id")
	}
	key := strings.ToLower(id)
	if _, removed := item["@removed"]; removed {
		delete(byID, key)
		return nil
	}
	a, ok := byID[key]
	if !ok {
		a = &userplan.Account{ID: id}
		byID[key] = a
	}
	str := func(name string, set func(string)) error {
		v, ok := item[name]
		if !ok {
			return nil
		}
		var s *string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("users delta item %s: %s: %w", id, name, err)
		}
		set(deref(s))
		return nil
	}
	if err := str("userPrincipalName", func(s string) { a.UserPrincipalName = s }); err != nil {
		return err
	}
	if err := str("mail", func(s string) { a.Mail = s }); err != nil {
		return err
	}
	if v, ok := item["proxyAddresses"]; ok {
		var pa []string
		if err := json.Unmarshal(v, &pa); err != nil {
			return fmt.Errorf("users delta item %s: proxyAddresses: %w", id, err)
		}
		a.ProxyAddresses = pa
	}
	if v, ok := item["accountEnabled"]; ok {
		var on *bool
		if err := json.Unmarshal(v, &on); err != nil {
			return fmt.Errorf("users delta item %s: accountEnabled: %w", id, err)
		}
		a.AccountEnabled = on != nil && *on
	}
	for name := range accountProps {
		if err := str(name, func(s string) {
			switch {
			case s != "":
				if a.Props == nil {
					a.Props = make(map[string]string, len(accountProps))
				}
				a.Props[name] = s
			case a.Props != nil:
				delete(a.Props, name)
				if len(a.Props) == 0 {
					a.Props = nil
				}
			}
		}); err != nil {
			return err
		}
	}
	return nil
}
