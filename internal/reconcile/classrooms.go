package reconcile

import (
	"context"
	"errors"
	"fmt"

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
// education API refuses, the snapshot ends the entity with a terminal
// refusal naming the reason (one error, not one per class).
func ClassroomsKind() Kind[classplan.Directory] {
	return Kind[classplan.Directory]{
		LinkKind: MappingClass,
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
	}
}

// isEducation reads the customer's recorded edition: the tenant check's
// finding (tenant.education: an education SKU or the education API
// answering) or the customer's own flag. A customer never checked counts
// as education here; the snapshot's read of the education API decides.
func isEducation(c tenant.Customer) bool {
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
