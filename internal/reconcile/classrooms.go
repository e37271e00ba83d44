package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/classplan"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// ClassroomsReader is what the classrooms planner reads of a tenant.
type ClassroomsReader interface {
	ClassroomsSnapshot(ctx context.Context) (classplan.Directory, error)
}

// MappingClass is the mapping kind of class links: a class sourcedId (or
// course:{sourcedId} in subject mode) to the education class's id, which
// is also its group's and its team's.
const MappingClass = string(classplan.Kind)

// Classrooms is the classrooms entity: the engine with the classrooms kind.
type Classrooms = Engine[classplan.Directory]

// ClassroomsKind is the classrooms entity's part. On a tenant whose
// education API refuses, the entity ends with one terminal refusal naming
// the reason (not one error per class), and the finding is kept on the
// customer: later runs refuse at plan time with the same reason, without
// probing the tenant again, until a tenant check reads it anew.
func ClassroomsKind() Kind[classplan.Directory] {
	return Kind[classplan.Directory]{
		LinkKind: MappingClass,
		Refuse:   refuseClassrooms,
		Learn:    learnNotEducation,
		Snapshot: func(ctx context.Context, d Directory, _ tenant.Profile, _ SnapshotCache) (classplan.Directory, error) {
			r, ok := d.(ClassroomsReader)
			if !ok {
				return classplan.Directory{}, fmt.Errorf("tenant %T offers no classrooms snapshot", d)
			}
			dir, err := r.ClassroomsSnapshot(ctx)
			if errors.Is(err, classplan.ErrNotEducation) {
				return dir, queue.Terminal(fmt.Errorf("classrooms refused: %w", err))
			}
			return dir, err
		},
		Plan:         planClassrooms,
		Expand:       classplan.Expand,
		Link:         classLink,
		FeedSize:     func(v *roster.View, _ tenant.Profile) int { return len(v.Classes()) },
		RelatedLinks: []string{MappingUser},
		Drift:        classroomsDrift,
	}
}

// notEducationError is a recorded refusal: it reads as the refusal that
// was recorded and matches classplan.ErrNotEducation.
type notEducationError struct{ reason string }

func (e notEducationError) Error() string { return e.reason }
func (e notEducationError) Is(target error) bool {
	return target == classplan.ErrNotEducation
}

// refuseClassrooms ends the entity on a customer recorded as not an
// education tenant: the refusal a sync recorded, word for word, or the
// tenant check's finding.
func refuseClassrooms(c tenant.Customer) error {
	if isEducation(c) {
		return nil
	}
	reason := classplan.ErrNotEducation.Error() + ": the tenant check found no education SKU and the education API refusing"
	if c.Tenant != nil && c.Tenant.EducationRefusal != "" {
		reason = c.Tenant.EducationRefusal
	}
	return queue.Terminal(fmt.Errorf("classrooms refused: %w", notEducationError{reason}))
}

// learnNotEducation keeps a snapshot's refusal for want of an education
// tenant on the customer.
func learnNotEducation(c *tenant.Customer, err error, now time.Time) bool {
	if !errors.Is(err, classplan.ErrNotEducation) {
		return false
	}
	var cause error = classplan.ErrNotEducation
	for e := err; e != nil; e = errors.Unwrap(e) {
		// The innermost error that still is the refusal names it best
		// ("not an education tenant: tenant t: the education API refused: …").
		if errors.Is(e, classplan.ErrNotEducation) && strings.HasPrefix(e.Error(), classplan.ErrNotEducation.Error()) {
			cause = e
			break
		}
	}
	c.RecordNotEducation(cause.Error(), now)
	return true
}

// isEducation reads the customer's recorded edition: a sync's recorded
// refusal first, then the customer's own flag, then the tenant check's
// finding (tenant.education: an education SKU or the education API
// answering). A customer never checked counts as education here; the
// snapshot's read of the education API decides.
func isEducation(c tenant.Customer) bool {
	if c.Tenant != nil && c.Tenant.EducationRefusal != "" {
		return false
	}
	if c.Education {
		return true
	}
	if c.Tenant != nil && !c.Tenant.CheckedAt.IsZero() && c.Tenant.Error == "" {
		return c.Tenant.Education
	}
	return true
}

func planClassrooms(in PlanInput[classplan.Directory]) *plan.Plan {
	links := make([]classplan.Link, 0, len(in.Links))
	for _, m := range in.Links {
		if m.TargetID != "" {
			links = append(links, classplan.Link{Key: m.SourceID, TargetID: m.TargetID, How: m.How})
		}
	}
	accounts := map[string]string{}
	for _, m := range in.Related[MappingUser] {
		if m.TargetID != "" {
			accounts[m.SourceID] = m.TargetID
		}
	}
	return classplan.Compute(classplan.Input{View: in.View, Dir: in.Snapshot, Education: isEducation(in.Customer), Links: links, Accounts: accounts,
		Excluded: in.Excluded, Rules: in.Profile.ClassroomsConfig(), RosterShrank: in.RosterShrank, Only: in.Only})
}

// classLink: a created class is linked as soon as it exists, a matched one
// when its change is done; archiving keeps the link (a class that comes
// back is unarchived, not made again).
func classLink(e state.Entry) (state.Mapping, bool) {
	m := state.Mapping{Kind: MappingClass, SourceID: e.Key, TargetID: e.TargetID}
	switch {
	case e.Action == plan.Create && e.Created != "":
		m.TargetID, m.How = e.Created, classplan.HowCreated
		if e.Existing {
			m.How = classplan.HowCreated + " (found after a retried create)"
		}
	case e.Action == plan.Link && e.Status == state.EntryDone:
		m.How = classplan.HowMatched
	default:
		return m, false
	}
	return m, true
}

// ClassroomKeys lists the classrooms a profile's roster asks for today, by
// link key, with the name each would take: what a CSV match may name
// (handlers' MatchKeys). A feed that cannot be read is ErrBadFeed.
func ClassroomKeys(src Source, now func() time.Time) func(ctx context.Context, c tenant.Customer, p tenant.Profile) (map[string]string, error) {
	return func(ctx context.Context, c tenant.Customer, p tenant.Profile) (map[string]string, error) {
		if src == nil {
			return nil, fmt.Errorf("%w: no roster source is configured", ErrBadFeed)
		}
		feed, err := src.Load(ctx, c, p)
		if err != nil {
			return nil, err
		}
		today, err := roster.ParseDate(now().UTC().Format("2006-01-02"))
		if err != nil {
			return nil, err
		}
		view, err := roster.NewView(feed.Roster, feed.Session, today)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadFeed, err)
		}
		return classplan.Keys(view, p.ClassroomsConfig()), nil
	}
}
