package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Button is a per-object action an entity offers in the UI; pressing it
// starts a run of that entity narrowed to the one object.
type Button string

const (
	ButtonResync Button = "resync"
	ButtonCreate Button = "create"
	ButtonDelete Button = "delete"
)

// knownButton reports whether b is a button any entity could offer, so
// that an unknown word is told apart from a button this entity lacks.
func knownButton(b Button) bool {
	return b == ButtonResync || b == ButtonCreate || b == ButtonDelete
}

// EntityInfo is what the API needs to know of one entity kind.
type EntityInfo struct {
	// Name is the entity as profiles and runs name it, e.g. "users".
	Name string
	// LinkKind is the kind its links and exclusions are stored under
	// (state.Mapping.Kind), e.g. "user"; empty when it keeps none.
	LinkKind string
	// Buttons are the per-object actions it offers.
	Buttons []Button
	// Memberships, for a kind whose objects hold people (groups,
	// classes), says what a change of its plan does to one account's
	// place in the object: the person status lists them. Nil otherwise.
	Memberships func(c plan.Change, account string) []plan.Membership
}

// EntityCatalog says which entity kinds exist: their link/exclusion kind
// and their per-object buttons. The API owns this interface so that it
// knows no entity by name; the engine's registry will implement it.
type EntityCatalog interface {
	Entity(name string) (EntityInfo, bool)
	// Entities lists every kind, in registration order.
	Entities() []EntityInfo
}

type staticCatalog []EntityInfo

func (c staticCatalog) Entity(name string) (EntityInfo, bool) {
	for _, e := range c {
		if e.Name == name {
			return e, true
		}
	}
	return EntityInfo{}, false
}

func (c staticCatalog) Entities() []EntityInfo { return slices.Clone(c) }

// StaticCatalog is a catalog of the given entities, for wiring and tests
// until the engine's registry describes its entities itself.
func StaticCatalog(entities ...EntityInfo) EntityCatalog {
	return staticCatalog(slices.Clone(entities))
}

// LinkKindUser is the link and exclusion kind of the users entity.
const LinkKindUser = "user"

// UsersEntity describes the users entity: people are linked to accounts
// under kind "user"; a person can be created now or synced again.
func UsersEntity() EntityInfo {
	return EntityInfo{Name: tenant.EntityUsers, LinkKind: LinkKindUser, Buttons: []Button{ButtonCreate, ButtonResync}}
}

// DefaultCatalog is the catalog of the entities that sync today.
func DefaultCatalog() EntityCatalog { return StaticCatalog(UsersEntity()) }

// ErrUnsupportedKind is an ObjectChecker's answer for an object kind it
// cannot look up yet; the API answers 501.
var ErrUnsupportedKind = errors.New("object kind not supported")

// entity resolves the path's {entity}, answering 404 when the catalog does
// not know it.
func (a *API) entity(w http.ResponseWriter, r *http.Request) (EntityInfo, bool) {
	name := r.PathValue("entity")
	e, ok := a.entities.Entity(name)
	if !ok {
		writeProblem(w, r, ProblemUnknownEntity, fmt.Sprintf("no entity %q", name))
		return EntityInfo{}, false
	}
	return e, true
}

// linkedEntity is entity for the links and exclusions routes: the entity
// must keep links.
func (a *API) linkedEntity(w http.ResponseWriter, r *http.Request) (EntityInfo, bool) {
	e, ok := a.entity(w, r)
	if ok && e.LinkKind == "" {
		writeProblem(w, r, ProblemNotFound, fmt.Sprintf("entity %s keeps no links or exclusions", e.Name))
		return EntityInfo{}, false
	}
	return e, ok
}

// planView is a stored plan with one page of its changes' apply progress.
type planView struct {
	Plan     *plan.Plan    `json:"plan"`
	Summary  plan.Summary  `json:"summary"`
	Entries  []state.Entry `json:"entries"`
	NextLink string        `json:"nextLink,omitempty"`
}

func (a *API) entityPlan(w http.ResponseWriter, r *http.Request) {
	e, ok := a.entity(w, r)
	if !ok {
		return
	}
	pg, ok := readPage(w, r)
	if !ok {
		return
	}
	p, entries, err := a.store.LoadPlan(r.Context(), r.PathValue("customer"), r.PathValue("run"), e.Name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if status := r.URL.Query().Get("status"); status != "" {
		entries = slices.DeleteFunc(entries, func(e state.Entry) bool { return e.Status != status })
	}
	entries, next, err := slicePage(pg, entries)
	if err != nil {
		writeProblem(w, r, ProblemValidation, "continuation: "+err.Error())
		return
	}
	summary := p.Summarize()
	p.Changes = nil // the entries carry them, with progress
	page := newPage(r, entries, next)
	writeJSON(w, http.StatusOK, planView{Plan: p, Summary: summary, Entries: page.Value, NextLink: page.NextLink})
}

func (a *API) entityUnsynced(w http.ResponseWriter, r *http.Request) {
	e, ok := a.entity(w, r)
	if !ok {
		return
	}
	pg, ok := readPage(w, r)
	if !ok {
		return
	}
	p, _, err := a.store.LoadPlan(r.Context(), r.PathValue("customer"), r.PathValue("run"), e.Name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, next, err := slicePage(pg, p.Unsynced)
	if err != nil {
		writeProblem(w, r, ProblemValidation, "continuation: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, newPage(r, out, next))
}

// confirmEntity lifts the guard of the entity's held plan and applies it.
func (a *API) confirmEntity(w http.ResponseWriter, r *http.Request) {
	e, ok := a.entity(w, r)
	if !ok {
		return
	}
	customer, id := r.PathValue("customer"), r.PathValue("run")
	run, err := a.store.GetRun(r.Context(), customer, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if i := run.Entity(e.Name); i < 0 || run.Entities[i].Status != runs.StatusHeld {
		writeProblem(w, r, ProblemConflict, fmt.Sprintf("%s of run %s is not held", e.Name, id))
		return
	}
	actor, _ := requestActor(r) // checked by handleAudited
	// The plan stays as stored; the confirmation is a record of its own,
	// which apply reads. It is withdrawn when the resume cannot start, so
	// the run never reads confirmed while nothing applies it.
	c := state.Confirmation{CustomerID: customer, RunID: id, Entity: e.Name, Actor: actor}
	if err := a.store.SaveConfirmation(r.Context(), c); err != nil {
		a.fail(w, r, err)
		return
	}
	resumed, err := a.starter.Resume(r.Context(), customer, id, e.Name, "apply")
	if err != nil {
		if werr := a.store.DeleteConfirmation(r.Context(), customer, id, e.Name); werr != nil {
			err = errors.Join(err, werr)
		}
		a.log.ErrorContext(r.Context(), "confirmed plan could not be resumed", "customer", customer, "run", id, "entity", e.Name, "error", err)
		writeProblem(w, r, ProblemUnavailable, fmt.Sprintf("%s of run %s stays held: applying it could not be started; confirm again later", e.Name, id))
		return
	}
	a.log.InfoContext(r.Context(), "held plan confirmed", "customer", customer, "run", id, "entity", e.Name)
	_ = a.audit(r, customer, AuditRunConfirm, AuditDetails{RunID: id, Entity: e.Name})
	writeJSON(w, http.StatusAccepted, resumed)
}

// Link is one object linked to its counterpart in the tenant, as the API
// and `rostersync links --json` show it.
type Link struct {
	Entity    string `json:"entity"`
	SourcedID string `json:"sourcedId"`
	ObjectID  string `json:"objectId"`
	How       string `json:"how,omitempty"`
}

// Links shows an entity's stored mappings as links, sorted by sourcedId.
func Links(entity string, ms []state.Mapping) []Link {
	out := make([]Link, 0, len(ms))
	for _, m := range ms {
		out = append(out, Link{Entity: entity, SourcedID: m.SourceID, ObjectID: m.TargetID, How: m.How})
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.SourcedID, b.SourcedID) })
	return out
}

// Exclusion is one object no sync touches.
type Exclusion struct {
	Entity    string `json:"entity"`
	SourcedID string `json:"sourcedId"`
	Reason    string `json:"reason,omitempty"`
}

func (a *API) listLinks(w http.ResponseWriter, r *http.Request) {
	e, ok := a.linkedEntity(w, r)
	if !ok {
		return
	}
	ms, err := a.store.ListMappings(r.Context(), r.PathValue("customer"), e.LinkKind)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": Links(e.Name, ms)})
}

// putLink is the manual match: this object is that existing one in the
// tenant. It refuses a tenant object already linked to another.
func (a *API) putLink(w http.ResponseWriter, r *http.Request) {
	e, ok := a.linkedEntity(w, r)
	if !ok {
		return
	}
	var body struct {
		ObjectID string `json:"objectId"`
		UserType string `json:"userType,omitempty"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	customer, source := r.PathValue("customer"), r.PathValue("sourcedId")
	if body.ObjectID == "" {
		writeProblem(w, r, ProblemValidation, "objectId (the tenant object's id) is required")
		return
	}
	if a.objects == nil {
		writeProblem(w, r, ProblemUnavailable, "links cannot be checked: Graph is not configured")
		return
	}
	c, ok := a.customerWithTenant(w, r, customer, "a link can only point at an object in it")
	if !ok {
		return
	}
	exists, err := a.objects.ObjectExists(r.Context(), c, e.LinkKind, body.ObjectID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !exists {
		writeProblem(w, r, ProblemValidation, fmt.Sprintf("objectId %s: no %s with that id in the customer's tenant", body.ObjectID, e.LinkKind))
		return
	}
	ms, err := a.store.ListMappings(r.Context(), customer, e.LinkKind)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, m := range ms {
		if strings.EqualFold(m.TargetID, body.ObjectID) && m.SourceID != source {
			writeProblem(w, r, ProblemConflict, fmt.Sprintf("object %s is already linked to %s", body.ObjectID, m.SourceID))
			return
		}
	}
	m := state.Mapping{CustomerID: customer, Kind: e.LinkKind, SourceID: source, TargetID: body.ObjectID, How: "manual", Type: body.UserType}
	if err := a.store.PutMappings(r.Context(), m); err != nil {
		a.fail(w, r, err)
		return
	}
	_ = a.audit(r, customer, AuditLinkPut, AuditDetails{Entity: e.Name, SourcedID: source, ObjectID: body.ObjectID})
	writeJSON(w, http.StatusOK, Links(e.Name, []state.Mapping{m})[0])
}

func (a *API) deleteLink(w http.ResponseWriter, r *http.Request) {
	e, ok := a.linkedEntity(w, r)
	if !ok {
		return
	}
	if err := a.store.DeleteMappings(r.Context(), r.PathValue("customer"), e.LinkKind, r.PathValue("sourcedId")); err != nil {
		a.fail(w, r, err)
		return
	}
	_ = a.audit(r, r.PathValue("customer"), AuditLinkDelete, AuditDetails{Entity: e.Name, SourcedID: r.PathValue("sourcedId")})
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listExclusions(w http.ResponseWriter, r *http.Request) {
	e, ok := a.linkedEntity(w, r)
	if !ok {
		return
	}
	xs, err := a.store.ListExclusions(r.Context(), r.PathValue("customer"), e.LinkKind)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]Exclusion, 0, len(xs))
	for _, x := range xs {
		out = append(out, Exclusion{Entity: e.Name, SourcedID: x.SourceID, Reason: x.Reason})
	}
	slices.SortFunc(out, func(a, b Exclusion) int { return strings.Compare(a.SourcedID, b.SourcedID) })
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (a *API) putExclusion(w http.ResponseWriter, r *http.Request) {
	e, ok := a.linkedEntity(w, r)
	if !ok {
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &body) {
		return
	}
	x := state.Exclusion{CustomerID: r.PathValue("customer"), Kind: e.LinkKind, SourceID: r.PathValue("sourcedId"), Reason: body.Reason}
	if err := a.store.AddExclusion(r.Context(), x); err != nil {
		a.fail(w, r, err)
		return
	}
	// The reason is free text, perhaps about the pupil: not recorded.
	_ = a.audit(r, x.CustomerID, AuditExclusionPut, AuditDetails{Entity: e.Name, SourcedID: x.SourceID})
	writeJSON(w, http.StatusOK, Exclusion{Entity: e.Name, SourcedID: x.SourceID, Reason: x.Reason})
}

func (a *API) deleteExclusion(w http.ResponseWriter, r *http.Request) {
	e, ok := a.linkedEntity(w, r)
	if !ok {
		return
	}
	if err := a.store.RemoveExclusion(r.Context(), r.PathValue("customer"), e.LinkKind, r.PathValue("sourcedId")); err != nil {
		a.fail(w, r, err)
		return
	}
	_ = a.audit(r, r.PathValue("customer"), AuditExclusionDelete, AuditDetails{Entity: e.Name, SourcedID: r.PathValue("sourcedId")})
	w.WriteHeader(http.StatusNoContent)
}

// objectAction presses one of an entity's per-object buttons: a run of
// that entity narrowed to the one object, carrying the button, under the
// profile named by the single query parameter profile (a button sends no
// body, and the Functions host forwards a query intact when it is given
// once).
func (a *API) objectAction(w http.ResponseWriter, r *http.Request) {
	e, ok := a.entity(w, r)
	if !ok {
		return
	}
	b := Button(r.PathValue("action"))
	if !knownButton(b) {
		writeProblem(w, r, ProblemNotFound, fmt.Sprintf("no action %q: want resync, create or delete", b))
		return
	}
	if !slices.Contains(e.Buttons, b) {
		writeProblem(w, r, ProblemActionNotOffered, fmt.Sprintf("entity %s does not offer %s (it offers: %s)", e.Name, b, joinButtons(e.Buttons)))
		return
	}
	profile := r.URL.Query().Get("profile")
	if profile == "" {
		writeProblem(w, r, ProblemValidation, "query parameter profile (the profile to run under) is required")
		return
	}
	if r.ContentLength != 0 {
		writeProblem(w, r, ProblemValidation, "a button takes no body; name the profile with ?profile=")
		return
	}
	req := pipeline.RunRequest{CustomerID: r.PathValue("customer"), ProfileID: profile, Mode: runs.ModeApply,
		Entities: []string{e.Name}, Only: []string{r.PathValue("sourcedId")}, Action: string(b)}
	run, err := a.starter.StartRun(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "object action started", "customer", run.CustomerID, "run", run.ID, "entity", e.Name, "action", string(b))
	_ = a.audit(r, req.CustomerID, auditObjectAction(b), AuditDetails{ProfileID: profile, RunID: run.ID, Entity: e.Name, SourcedID: r.PathValue("sourcedId")})
	w.Header().Set("Location", fmt.Sprintf("/api/customers/%s/runs/%s", run.CustomerID, run.ID))
	writeJSON(w, http.StatusAccepted, run)
}

func joinButtons(bs []Button) string {
	if len(bs) == 0 {
		return "none"
	}
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = string(b)
	}
	return strings.Join(s, ", ")
}

// ObjectLookup says whether an object exists in a customer's tenant, so a
// manual link cannot point at an object that is not there (or is in
// another tenant). kind is the entity's LinkKind; a lookup answers
// ErrUnsupportedKind for a kind it cannot look up (the API answers 501).
type ObjectLookup interface {
	ObjectExists(ctx context.Context, customer tenant.Customer, kind, objectID string) (bool, error)
}

// ObjectChecker looks up users alone; cmd/rostersync implements it over
// the per-tenant Graph client. UserObjects makes it an ObjectLookup.
type ObjectChecker interface {
	UserExists(ctx context.Context, customer tenant.Customer, objectID string) (bool, error)
}

// UserObjects is the lookup of today's entities: users through c, every
// other kind ErrUnsupportedKind until its entity brings its own lookup.
func UserObjects(c ObjectChecker) ObjectLookup { return userObjects{c} }

type userObjects struct{ users ObjectChecker }

func (u userObjects) ObjectExists(ctx context.Context, customer tenant.Customer, kind, objectID string) (bool, error) {
	if kind != LinkKindUser {
		return false, fmt.Errorf("looking up a %s in the tenant: %w", kind, ErrUnsupportedKind)
	}
	return u.users.UserExists(ctx, customer, objectID)
}
