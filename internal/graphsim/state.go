package graphsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// StateFormatVersion is the version of the seed/export JSON format.
const StateFormatVersion = 1

// State is the JSON form of the simulator's tenants: both the seed format
// and the export format, so an export can seed a new simulator.
type State struct {
	FormatVersion int           `json:"formatVersion"`
	Tenants       []TenantState `json:"tenants"`
}

// TenantState is one tenant. Users, groups, schools and events are Graph
// JSON objects (with their "id"), plus a few relationship fields named
// below, so seed files read like Graph responses.
type TenantState struct {
	ID          string  `json:"id"`
	DisplayName string  `json:"displayName"`
	Edition     Edition `json:"edition"`
	// SizeClass fixes the throttling size; empty means by user count.
	SizeClass SizeClass `json:"sizeClass,omitempty"`
	Domains   []Domain  `json:"domains"`
	// GroupMailDomain models an Exchange email address policy for
	// Microsoft 365 groups (New-EmailAddressPolicy
	// -IncludeUnifiedGroupRecipients): new groups get their primary
	// address in this verified domain instead of the default domain.
	GroupMailDomain string     `json:"groupMailDomain,omitempty"`
	SubscribedSkus  []SkuState `json:"subscribedSkus,omitempty"`
	// Users are user objects; an optional "education" object holds
	// educationUser properties (primaryRole, student, teacher...).
	Users []map[string]any `json:"users,omitempty"`
	// Groups are group objects plus "members" and "owners" (arrays of
	// object ids), optional "educationClass" (educationClass properties)
	// and optional "team" ({"isArchived": bool}).
	Groups []map[string]any `json:"groups,omitempty"`
	// Schools are educationSchool objects plus "classes" and "users" ids.
	Schools []map[string]any `json:"schools,omitempty"`
	// Events are event objects plus "userId", the mailbox owner.
	Events []map[string]any `json:"events,omitempty"`
	// SentMail are the messages the tenant's mailboxes sent (sendMail).
	SentMail []SentMail `json:"sentMail,omitempty"`
}

// Domain is a tenant domain as GET /domains shows it.
type Domain struct {
	ID                 string `json:"id"`
	IsVerified         bool   `json:"isVerified"`
	IsDefault          bool   `json:"isDefault"`
	IsInitial          bool   `json:"isInitial"`
	AuthenticationType string `json:"authenticationType,omitempty"`
}

// SkuState is a subscribed SKU and its seat count.
type SkuState struct {
	SkuID         string `json:"skuId"`
	SkuPartNumber string `json:"skuPartNumber"`
	// Seats is prepaidUnits.enabled.
	Seats int `json:"seats"`
}

// ErrBadState is wrapped by every seed validation error.
var ErrBadState = errors.New("bad simulator state")

// ReadStateFile reads a seed or export file.
func ReadStateFile(path string) (State, error) {
	f, err := os.Open(path)
	if err != nil {
		return State{}, fmt.Errorf("read state: %w", err)
	}
	defer f.Close()
	st, err := DecodeState(f)
	if err != nil {
		return State{}, fmt.Errorf("read state %s: %w", path, err)
	}
	return st, nil
}

// DecodeState decodes a State, rejecting unknown top-level fields.
func DecodeState(r io.Reader) (State, error) {
	var st State
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(&st); err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	if st.FormatVersion != 0 && st.FormatVersion != StateFormatVersion {
		return State{}, fmt.Errorf("%w: formatVersion %d, want %d", ErrBadState, st.FormatVersion, StateFormatVersion)
	}
	return st, nil
}

// Load adds the tenants in st, replacing tenants with the same id. Seeded
// objects are visible at once and old enough to team-ify.
func (s *Server) Load(st State) error {
	built := make([]*tenant, 0, len(st.Tenants))
	for _, ts := range st.Tenants {
		t, err := s.buildTenant(ts)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", ts.ID, err)
		}
		built = append(built, t)
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	if j := s.journal.Load(); j != nil {
		for _, t := range built {
			ts := s.exportTenant(t)
			if err := j.append(logRecord{Tenant: t.id, Replace: &ts}); err != nil {
				return fmt.Errorf("tenant %q: %w", t.id, err)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range built {
		s.tenants[t.id] = t
	}
	return nil
}

// AddTenant adds one tenant; see Load.
func (s *Server) AddTenant(ts TenantState) error {
	return s.Load(State{FormatVersion: StateFormatVersion, Tenants: []TenantState{ts}})
}

// TenantIDs lists the tenants, sorted.
func (s *Server) TenantIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedIDs(s.tenants)
}

// normalise turns json.Number into int64 or float64 so stored values
// marshal back unchanged and compare simply.
func normalise(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalise(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
		return x
	}
	return v
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	_ = dec.Decode(&out)
	normalise(out)
	return out
}

func (s *Server) buildTenant(ts TenantState) (*tenant, error) {
	if ts.ID == "" {
		return nil, fmt.Errorf("%w: tenant id is empty", ErrBadState)
	}
	switch ts.Edition {
	case EditionEducation, EditionBusiness:
	case "":
		ts.Edition = EditionBusiness
	default:
		return nil, fmt.Errorf("%w: edition %q, want education or business", ErrBadState, ts.Edition)
	}
	switch ts.SizeClass {
	case "", SizeS, SizeM, SizeL:
	default:
		return nil, fmt.Errorf("%w: sizeClass %q, want S, M, L or empty", ErrBadState, ts.SizeClass)
	}
	t := newTenant(ts.ID)
	t.displayName = ts.DisplayName
	t.edition = ts.Edition
	t.size = ts.SizeClass
	t.domains = append([]Domain(nil), ts.Domains...)
	if len(t.domains) == 0 {
		t.domains = []Domain{{ID: t.id + ".onmicrosoft.com", IsVerified: true, IsDefault: true, IsInitial: true, AuthenticationType: "Managed"}}
	}
	if ts.GroupMailDomain != "" {
		d := t.domain(ts.GroupMailDomain)
		if d == nil || !d.IsVerified {
			return nil, fmt.Errorf("%w: groupMailDomain %q is not a verified domain of the tenant", ErrBadState, ts.GroupMailDomain)
		}
		t.groupDomain = d.ID
	}
	for _, k := range ts.SubscribedSkus {
		if k.SkuID == "" {
			return nil, fmt.Errorf("%w: subscribed sku without skuId", ErrBadState)
		}
		t.skus = append(t.skus, &sku{SkuState: k})
	}
	for i, raw := range ts.Users {
		p, id := s.seedObject(raw)
		if str(p["userPrincipalName"]) == "" {
			return nil, fmt.Errorf("%w: user %d (%s) has no userPrincipalName", ErrBadState, i, id)
		}
		u := &user{meta: meta{id: id}, props: p}
		t.touch(objUser, &u.meta)
		if e, ok := p["education"].(map[string]any); ok {
			u.edu = e
			delete(p, "education")
		}
		withUserDefaults(p)
		t.users[id] = u
		t.liveUsers.Add(1)
	}
	for _, u := range t.users {
		for _, l := range assignedSkuIDs(u.props) {
			if k := t.sku(l); k != nil {
				k.consumed++
			}
		}
	}
	for i, raw := range ts.Groups {
		p, id := s.seedObject(raw)
		if str(p["displayName"]) == "" {
			return nil, fmt.Errorf("%w: group %d (%s) has no displayName", ErrBadState, i, id)
		}
		g := &group{meta: meta{id: id}, props: p}
		t.touch(objGroup, &g.meta)
		g.members = lowerAll(strSlice(p["members"]))
		g.owners = lowerAll(strSlice(p["owners"]))
		delete(p, "members")
		delete(p, "owners")
		if c, ok := p["educationClass"].(map[string]any); ok {
			g.class = c
			delete(p, "educationClass")
		}
		if tm, ok := p["team"].(map[string]any); ok {
			g.team = &team{archived: tm["isArchived"] == true, props: map[string]any{}}
			delete(p, "team")
		}
		withGroupDefaults(p)
		t.groups[id] = g
	}
	for _, g := range t.groups {
		for _, m := range append(append([]string(nil), g.members...), g.owners...) {
			if t.users[m] == nil && t.groups[m] == nil {
				return nil, fmt.Errorf("%w: group %s refers to unknown object %s", ErrBadState, g.id, m)
			}
		}
	}
	for _, raw := range ts.Schools {
		p, id := s.seedObject(raw)
		sc := &school{meta: meta{id: id}, props: p}
		t.touch(objSchool, &sc.meta)
		sc.classes = lowerAll(strSlice(p["classes"]))
		sc.users = lowerAll(strSlice(p["users"]))
		delete(p, "classes")
		delete(p, "users")
		t.schools[id] = sc
	}
	for _, raw := range ts.Events {
		p := cloneMap(raw)
		uid := strings.ToLower(str(p["userId"]))
		if t.users[uid] == nil {
			return nil, fmt.Errorf("%w: event for unknown user %q", ErrBadState, uid)
		}
		delete(p, "userId")
		id := str(p["id"])
		if id == "" {
			id = s.ids.guid()
		}
		p["id"] = id
		e := &event{meta: meta{id: id}, userID: uid, props: p}
		t.touch(objEvent, &e.meta)
		t.events[id] = e
	}
	t.sentMail = append([]SentMail(nil), ts.SentMail...)
	return t, nil
}

// seedObject copies a seeded directory object and settles its id: the
// seed's (lower-cased, as directory ids compare) or a new one.
func (s *Server) seedObject(raw map[string]any) (map[string]any, string) {
	p := cloneMap(raw)
	id := strings.ToLower(str(p["id"]))
	if id == "" {
		id = s.ids.guid()
	}
	p["id"] = id
	return p, id
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

// Export returns the full state of every tenant. Passwords are never
// exported: a re-seeded user simply has none.
func (s *Server) Export() State {
	st := State{FormatVersion: StateFormatVersion}
	for _, id := range s.TenantIDs() {
		if ts, ok := s.ExportTenant(id); ok {
			st.Tenants = append(st.Tenants, ts)
		}
	}
	return st
}

// ExportTenant returns one tenant's state.
func (s *Server) ExportTenant(id string) (TenantState, bool) {
	t := s.tenant(id)
	if t == nil {
		return TenantState{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return s.exportTenant(t), true
}

// exportTenant is ExportTenant with t.mu held (or t not yet shared).
func (s *Server) exportTenant(t *tenant) TenantState {
	ts := TenantState{
		ID:          t.id,
		DisplayName: t.displayName,
		Edition:     t.edition,
		SizeClass:   t.size,
		Domains:     append([]Domain(nil), t.domains...),
	}
	ts.GroupMailDomain = t.groupDomain
	for _, k := range t.skus {
		ts.SubscribedSkus = append(ts.SubscribedSkus, k.SkuState)
	}
	for _, id := range sortedIDs(t.users) {
		if u := t.users[id]; !u.deleted {
			ts.Users = append(ts.Users, exportUser(u))
		}
	}
	for _, id := range sortedIDs(t.groups) {
		if g := t.groups[id]; !g.deleted {
			ts.Groups = append(ts.Groups, s.exportGroup(g))
		}
	}
	for _, id := range sortedIDs(t.schools) {
		if sc := t.schools[id]; !sc.deleted {
			ts.Schools = append(ts.Schools, exportSchool(sc))
		}
	}
	for _, id := range sortedIDs(t.events) {
		if e := t.events[id]; t.liveEvent(e) {
			ts.Events = append(ts.Events, exportEvent(e))
		}
	}
	ts.SentMail = append([]SentMail(nil), t.sentMail...)
	return ts
}

// liveEvent reports whether e belongs in an export: not deleted, and its
// mailbox owner still exists (a seed may not name an unknown user).
func (t *tenant) liveEvent(e *event) bool {
	if e.deleted {
		return false
	}
	u := t.users[e.userID]
	return u != nil && !u.deleted
}

// exportUser is u in the seed format; passwords are never exported.
func exportUser(u *user) map[string]any {
	p := cloneMap(u.props)
	delete(p, "passwordProfile")
	if u.edu != nil {
		p["education"] = cloneMap(u.edu)
	}
	return p
}

// exportGroup is g in the seed format. An archive or unarchive still
// running is exported as done: Graph accepted it and finishes it whatever
// happens to the caller. One that will fail (Faults.TeamOperation) is
// exported as never made.
func (s *Server) exportGroup(g *group) map[string]any {
	p := cloneMap(g.props)
	p["members"] = append([]string{}, g.members...)
	p["owners"] = append([]string{}, g.owners...)
	if g.class != nil {
		p["educationClass"] = cloneMap(g.class)
	}
	if g.team != nil && !g.team.failed {
		s.settle(g.team)
		archived := g.team.archived
		if g.team.pending != nil && !g.team.pending.failed {
			archived = g.team.pending.archived
		}
		p["team"] = map[string]any{"isArchived": archived}
	}
	return p
}

func exportSchool(sc *school) map[string]any {
	p := cloneMap(sc.props)
	p["classes"] = append([]string{}, sc.classes...)
	p["users"] = append([]string{}, sc.users...)
	return p
}

func exportEvent(e *event) map[string]any {
	p := cloneMap(e.props)
	p["userId"] = e.userID
	return p
}

// WriteState writes st as indented JSON with a trailing newline.
func WriteState(w io.Writer, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// sortStrings returns a sorted copy.
func sortStrings(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
