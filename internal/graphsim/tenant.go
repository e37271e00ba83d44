package graphsim

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Edition is a tenant's licensing family. Education APIs work only on an
// education tenant.
type Edition string

const (
	EditionEducation Edition = "education"
	EditionBusiness  Edition = "business"
)

// SizeClass is Graph's tenant size for identity throttling: S under 50 users,
// M 50–500, L over 500 (graph.md §1.2).
type SizeClass string

const (
	SizeS SizeClass = "S"
	SizeM SizeClass = "M"
	SizeL SizeClass = "L"
)

// sizeFor classifies a user count the way Graph does.
func sizeFor(users int) SizeClass {
	switch {
	case users < 50:
		return SizeS
	case users <= 500:
		return SizeM
	default:
		return SizeL
	}
}

// meta is what every stored object carries for visibility and delta.
type meta struct {
	id        string
	created   time.Time
	visibleAt time.Time // eventual consistency: invisible to reads before this
	seq       uint64    // change sequence of the last change, for delta
	deleted   bool      // tombstone kept for delta's @removed
	// prior holds the values an update replaced; reads see them until
	// priorUntil, as a replica that has not caught up would (graph.md §6).
	prior      map[string]any
	priorUntil time.Time
	// removedReason is delta's @removed reason: "changed" for soft-deleted
	// (restorable) objects, "deleted" for hard-deleted ones (graph.md §3.5).
	removedReason string
	// addrs is the object's addresses as of seq (see addresses).
	addrs addressCache
}

// addressCache is an object's addresses, lowered: its userPrincipalName,
// and its mail and proxy addresses.
type addressCache struct {
	ok    bool
	seq   uint64
	upn   string
	mails []string
}

// addresses returns m's addresses from props, its properties. They are
// read again only when the object has changed since: every change to a
// user's or group's properties moves its seq on (delta reports changes by
// it). addressOwner reads a candidate's addresses for each lookup, and
// the address index each changed object's, so they are lowered once per
// change rather than once per look.
func (m *meta) addresses(props map[string]any) *addressCache {
	c := &m.addrs
	if c.ok && c.seq == m.seq {
		return c
	}
	c.ok, c.seq = true, m.seq
	c.upn = strings.ToLower(str(props["userPrincipalName"]))
	c.mails = c.mails[:0]
	if mail := str(props["mail"]); mail != "" {
		c.mails = append(c.mails, strings.ToLower(mail))
	}
	for _, p := range strSlice(props["proxyAddresses"]) {
		if _, a, ok := strings.Cut(p, ":"); ok {
			c.mails = append(c.mails, strings.ToLower(a))
		}
	}
	return c
}

type user struct {
	meta
	props map[string]any
	edu   map[string]any // educationUser extras, nil if not an education user
}

type group struct {
	meta
	props   map[string]any
	members []string
	owners  []string
	class   map[string]any // educationClass extras, nil if not a class
	team    *team
}

type team struct {
	created  time.Time // when provisioning finished (or will finish)
	archived bool
	pending  *pendingArchive
	props    map[string]any
	// failed: the createTeam operation ends failed at created; the team
	// never exists, and once failed the group can be team-ified again.
	failed bool
}

// pendingArchive is an archive or unarchive still running.
type pendingArchive struct {
	at       time.Time
	archived bool
	failed   bool // the operation fails: the archive state stays
}

type school struct {
	meta
	props   map[string]any
	classes []string
	users   []string
}

type event struct {
	meta
	userID string
	props  map[string]any
}

// asyncOp is a teamsAsyncOperation.
type asyncOp struct {
	id, teamID, opType     string
	created, started, done time.Time
	fail                   *OperationError // non-nil: ends failed at done
}

// memberChange is one membership add or removal, for groups delta.
type memberChange struct {
	seq     uint64
	at      time.Time // when it was written; reads see it ConsistencyDelay later
	groupID string
	member  string
	rel     string // "members" or "owners"
	removed bool
}

// tenant is one simulated Microsoft 365 tenant. mu guards everything but
// stats, which has its own lock so throttled requests never wait on state.
type tenant struct {
	mu          sync.Mutex
	id          string
	displayName string
	edition     Edition
	size        SizeClass // "" means by user count
	domains     []Domain
	skus        []*sku
	users       map[string]*user
	groups      map[string]*group
	schools     map[string]*school
	events      map[string]*event // by event id
	ops         map[string]*asyncOp
	memberLog   []memberChange // in time order
	// sentMail is what the tenant's mailboxes sent (mail.go).
	sentMail []SentMail
	// groupDomain is the domain an Exchange email address policy for
	// Microsoft 365 groups names; "" means the default domain.
	groupDomain string
	seq         uint64
	// changes logs the objects the current request changed (see touch).
	changes []change
	addrs   addressIndex
	// liveUsers sets the size class, which the throttler reads without
	// taking mu.
	liveUsers atomic.Int64

	stats *tenantStats
}

type sku struct {
	SkuState
	consumed int
}

func newTenant(id string) *tenant {
	return &tenant{
		id:      strings.ToLower(id),
		users:   map[string]*user{},
		groups:  map[string]*group{},
		schools: map[string]*school{},
		events:  map[string]*event{},
		ops:     map[string]*asyncOp{},
		stats:   newTenantStats(),
	}
}

func (t *tenant) nextSeq() uint64 {
	t.seq++
	return t.seq
}

// sizeClass is the tenant's current throttling size.
func (t *tenant) sizeClass() SizeClass {
	if t.size != "" {
		return t.size
	}
	return sizeFor(int(t.liveUsers.Load()))
}

// findUser looks a live user up by id or userPrincipalName.
func (t *tenant) findUser(key string) *user {
	if u := t.users[strings.ToLower(key)]; u != nil && !u.deleted {
		return u
	}
	if !strings.Contains(key, "@") {
		return nil
	}
	for _, u := range t.users {
		if !u.deleted && strings.EqualFold(str(u.props["userPrincipalName"]), key) {
			return u
		}
	}
	return nil
}

func (t *tenant) findGroup(id string) *group {
	if g := t.groups[strings.ToLower(id)]; g != nil && !g.deleted {
		return g
	}
	return nil
}

// domain returns the tenant's domain named name, or nil.
func (t *tenant) domain(name string) *Domain {
	for i := range t.domains {
		if strings.EqualFold(t.domains[i].ID, name) {
			return &t.domains[i]
		}
	}
	return nil
}

// groupMailDomain is the domain of a new Microsoft 365 group's primary
// address: the one an email address policy for groups names, else the
// tenant's default domain, which is the *.onmicrosoft.com initial domain
// until an admin makes a verified custom domain the default. "If no EAPs
// match the specified criteria, then the group gets provisioned in the
// organization's default accepted domain" (Microsoft 365 docs, "Choose the
// domain to use when creating Microsoft 365 groups"). Clients must read a
// group's mail back: it is not always nickname@defaultDomain.
func (t *tenant) groupMailDomain() string {
	if t.groupDomain != "" {
		return t.groupDomain
	}
	for _, d := range t.domains {
		if d.IsDefault && d.IsVerified {
			return d.ID
		}
	}
	return t.initialDomain()
}

// initialDomain is the tenant's *.onmicrosoft.com domain, which every
// Microsoft 365 group also gets an address in (its MOERA).
func (t *tenant) initialDomain() string {
	for _, d := range t.domains {
		if d.IsInitial {
			return d.ID
		}
	}
	for _, d := range t.domains {
		if d.IsDefault {
			return d.ID
		}
	}
	if len(t.domains) > 0 {
		return t.domains[0].ID
	}
	return t.id + ".onmicrosoft.com"
}

// addressOwner returns the id of the live object (user or group) that
// already uses addr (never empty: callers check) as UPN, mail or proxy
// address, ignoring except.
func (t *tenant) addressOwner(addr, except string) (id, property string) {
	addr = strings.ToLower(addr)
	t.catchUpAddresses()
	// Users before groups, the order the scan this index replaced read.
	for _, kind := range []objKind{objUser, objGroup} {
		for _, ref := range t.addrs.holders[addr] {
			if ref.kind != kind {
				continue
			}
			m, props, ok := t.object(ref)
			if !ok || m.deleted || m.id == except {
				continue
			}
			a := m.addresses(props)
			if a.upn == addr {
				return m.id, "userPrincipalName"
			}
			if slices.Contains(a.mails, addr) {
				return m.id, "proxyAddresses"
			}
		}
	}
	return "", ""
}

// sortedIDs returns the keys of m in order; Graph's listing order is
// stable per query, and id order keeps paging deterministic.
func sortedIDs[T any](m map[string]T) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strSlice(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func contains(list []string, id string) bool {
	for _, x := range list {
		if strings.EqualFold(x, id) {
			return true
		}
	}
	return false
}

func remove(list []string, id string) []string {
	out := list[:0]
	for _, x := range list {
		if !strings.EqualFold(x, id) {
			out = append(out, x)
		}
	}
	return out
}

// visible reports whether an object created with m is visible to reads now.
func (s *Server) visible(m *meta) bool { return !s.now().Before(m.visibleAt) }

// read returns the properties a read sees now: the stored ones, with
// recently replaced values still showing while the update replicates.
func (s *Server) read(m *meta, props map[string]any) map[string]any {
	if m.prior == nil || !s.now().Before(m.priorUntil) {
		m.prior = nil
		return props
	}
	out := make(map[string]any, len(props))
	for k, v := range props {
		out[k] = v
	}
	for k, v := range m.prior {
		out[k] = v
	}
	return out
}

// remember records the old values of keys an update is about to replace.
func (s *Server) remember(m *meta, props map[string]any, keys map[string]any) {
	if s.opts.ConsistencyDelay <= 0 {
		return
	}
	now := s.now()
	if m.prior == nil || !now.Before(m.priorUntil) {
		m.prior = map[string]any{}
	}
	for k := range keys {
		if strings.Contains(k, "@") {
			continue
		}
		if _, seen := m.prior[k]; !seen {
			m.prior[k] = props[k]
		}
	}
	m.priorUntil = now.Add(s.scaled(s.opts.ConsistencyDelay))
}

// stamp initialises meta for a new object.
func (s *Server) stamp(t *tenant, kind objKind, id string) meta {
	now := s.now()
	m := meta{id: id, created: now, visibleAt: now}
	t.touch(kind, &m)
	if s.opts.ConsistencyDelay > 0 {
		m.visibleAt = now.Add(s.scaled(s.opts.ConsistencyDelay))
	}
	return m
}

func (t *tenant) String() string { return fmt.Sprintf("tenant %s", t.id) }
