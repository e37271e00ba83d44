package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rostersync/rostersync/internal/state"
)

// The audit trail records who asked the API to change something, what and
// when: GET /api/customers/{customer}/audit lists it, newest first.
//
// Only actions that succeeded are recorded. A refused request changed
// nothing, the Functions host's request log already has it, and recording
// it would let any holder of the function key write rows under any
// customer id, including ids that are no customer and that no purge would
// ever find.

// HeaderActor names who asked, as the vendor's UI knows them: best an
// opaque user id, since the trail keeps it as long as the customer's data.
const HeaderActor = "X-Rostersync-Actor"

// ActorUnknown is recorded when a request names no actor: scripts and the
// CLI call the API without one, and refusing them would break them, while
// "unknown" in the trail tells the admin exactly what is known.
const ActorUnknown = "unknown"

// maxActorRunes bounds the actor header: it is stored and shown in the
// vendor's UI, so it is kept to the size of an id.
const maxActorRunes = 256

// AuditAction is what an audit record says was done.
type AuditAction string

// The actions recorded. Adding one is fine; renaming one breaks the
// vendor's filters.
const (
	AuditCustomerPut            AuditAction = "customer.put"
	AuditConfigurationRemove    AuditAction = "configuration.remove"
	AuditProfilePut             AuditAction = "profile.put"
	AuditProfileCopy            AuditAction = "profile.copy"
	AuditRunStart               AuditAction = "run.start"
	AuditRunConfirm             AuditAction = "run.confirm"
	AuditCredentialsExport      AuditAction = "credentials.export"
	AuditCredentialsRefetch     AuditAction = "credentials.refetch"
	AuditCredentialsAcknowledge AuditAction = "credentials.acknowledge"
	AuditLinkPut                AuditAction = "link.put"
	AuditLinkDelete             AuditAction = "link.delete"
	AuditLinksMatch             AuditAction = "links.match"
	AuditExclusionPut           AuditAction = "exclusion.put"
	AuditExclusionDelete        AuditAction = "exclusion.delete"
)

// auditObjectAction is the action of a per-object button, e.g.
// "object.create".
func auditObjectAction(b Button) AuditAction { return AuditAction("object." + string(b)) }

// AuditDetails are the ids an audit record names besides the customer,
// actor, action and time. Ids and counts only: never a name, email,
// password or free text such as an exclusion's reason.
type AuditDetails struct {
	ProfileID string
	RunID     string
	Entity    string
	SourcedID string
	ObjectID  string
	ExportID  string
	Count     int
}

// auditStore keeps the trail; *state.Store has it.
type auditStore interface {
	AppendAudit(ctx context.Context, rec state.AuditRecord) (state.AuditRecord, error)
	AuditPage(ctx context.Context, customerID string, top int, after string) ([]state.AuditRecord, string, error)
}

var _ auditStore = (*state.Store)(nil)

// requestActor reads the actor header: "" when absent, an error naming
// what is wrong and where when it is not one short line of printable
// text. The header is hostile input: it ends up in storage and in the
// vendor's UI, so control and format characters (which could forge lines
// or reorder text on screen) are refused rather than cleaned.
func requestActor(r *http.Request) (string, error) {
	vs := r.Header.Values(HeaderActor)
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", fmt.Errorf("header %s: sent %d times, want once", HeaderActor, len(vs))
	}
	v := strings.Trim(vs[0], " ")
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("header %s: not valid UTF-8", HeaderActor)
	}
	if n := utf8.RuneCountInString(v); n > maxActorRunes {
		return "", fmt.Errorf("header %s: %d characters, the limit is %d", HeaderActor, n, maxActorRunes)
	}
	for i, c := range v {
		if !unicode.IsPrint(c) {
			return "", fmt.Errorf("header %s: character %U at byte %d is not printable text", HeaderActor, c, i)
		}
	}
	return v, nil
}

// handleAudited registers a route that records its action: the actor
// header is checked before the handler runs, so a request with a bad one
// is refused (400) before anything is done, not after.
func (a *API) handleAudited(pattern string, h http.HandlerFunc) {
	a.handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		if _, err := requestActor(r); err != nil {
			writeProblem(w, r, ProblemValidation, err.Error())
			return
		}
		h(w, r)
	})
}

// audit records that the request's actor did action to customer, now.
// Call it once the action succeeded (see above). An error is logged and
// returned: a caller whose action already happened answers as it would
// have (the action stands, and a failure would only make the UI repeat
// it); a caller about to hand something out, such as passwords, refuses
// instead, so nothing leaves unrecorded.
func (a *API) audit(r *http.Request, customer string, action AuditAction, d AuditDetails) error {
	store, ok := a.store.(auditStore)
	if !ok {
		return nil // a store without a trail (tests' fakes) records nothing
	}
	actor, err := requestActor(r)
	if err != nil {
		// Routes that record are registered with handleAudited, which
		// refused this request already; one that is not still records.
		a.log.ErrorContext(r.Context(), "audited route does not check the actor header", "path", r.Pattern)
		actor = ""
	}
	if actor == "" {
		actor = ActorUnknown
	}
	rec := state.AuditRecord{CustomerID: customer, Actor: actor, Action: string(action),
		ProfileID: d.ProfileID, RunID: d.RunID, Entity: d.Entity, SourcedID: d.SourcedID,
		ObjectID: d.ObjectID, ExportID: d.ExportID, Count: d.Count}
	if _, err := store.AppendAudit(r.Context(), rec); err != nil {
		a.log.ErrorContext(r.Context(), "audit record lost", "customer", customer, "action", string(action), "error", err)
		return fmt.Errorf("record %s: %w", action, err)
	}
	return nil
}

// listAudit pages the customer's trail, newest first.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	store, ok := a.store.(auditStore)
	if !ok {
		writeProblem(w, r, ProblemUnavailable, "this store keeps no audit trail")
		return
	}
	customer := r.PathValue("customer")
	if _, err := a.store.GetCustomer(r.Context(), customer); err != nil {
		a.fail(w, r, err)
		return
	}
	p, ok := readPage(w, r)
	if !ok {
		return
	}
	recs, next, err := store.AuditPage(r.Context(), customer, p.top, p.after)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(r, recs, next))
}
