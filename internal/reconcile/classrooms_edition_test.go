package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/classplan"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// businessTenant is a tenant whose education API refuses, as Graph's does
// on a business tenant; it counts the probes.
type businessTenant struct {
	memTenant
	probes int
}

func (b *businessTenant) Directory(ctx context.Context, c tenant.Customer) (Directory, error) {
	return b, nil
}

func (b *businessTenant) ClassroomsSnapshot(ctx context.Context) (classplan.Directory, error) {
	b.probes++
	return classplan.Directory{}, fmt.Errorf("%w: tenant t-biz: the education API refused: 400 UnsupportedQuery", classplan.ErrNotEducation)
}

func classroomsOn(t *testing.T, c tenant.Customer) (*Classrooms, *businessTenant, *state.Store) {
	t.Helper()
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewStore(b, nil)
	if err := store.PutCustomer(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	bt := &businessTenant{memTenant: memTenant{accounts: nil}}
	e := &Classrooms{Kind: ClassroomsKind(), Source: fixedSource{school([4]string{"s1", "Amy", "Pond", "07"})}, Tenants: bt, Store: store}
	return e, bt, store
}

func classroomsRun(ctx context.Context, e *Classrooms, store *state.Store, id string) error {
	c, err := store.GetCustomer(ctx, "biz")
	if err != nil {
		return err
	}
	_, err = e.Sync(ctx, pipeline.EntityInput{Job: queue.Job{Entity: tenant.EntityClassrooms}, Run: runs.Run{ID: id, CustomerID: "biz", Mode: runs.ModeApply},
		Customer: c, Profile: tenant.Profile{ID: "p", CustomerID: "biz"}, Now: time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC)})
	return err
}

// The first run on a business tenant probes once, ends classrooms with
// one terminal reason and keeps the finding on the customer; the next run
// refuses with the same reason without probing again.
func TestClassroomsBusinessTenantRecordedAndRefusedAtPlanTime(t *testing.T) {
	ctx := context.Background()
	e, bt, store := classroomsOn(t, tenant.Customer{ID: "biz", TenantID: "t-biz"})

	first := classroomsRun(ctx, e, store, "r1")
	if !queue.IsTerminal(first) || !errors.Is(first, classplan.ErrNotEducation) || !strings.HasPrefix(first.Error(), "classrooms refused: not an education tenant: tenant t-biz") {
		t.Fatalf("first run: %v; want one terminal refusal naming the tenant", first)
	}
	c, err := store.GetCustomer(ctx, "biz")
	if err != nil {
		t.Fatal(err)
	}
	if c.Education || c.Tenant == nil || c.Tenant.Education || c.Tenant.EducationRefusedAt.IsZero() ||
		!strings.Contains(c.Tenant.EducationRefusal, "the education API refused") {
		t.Fatalf("customer after the refusal: education %v, tenant %+v; want the refusal recorded", c.Education, c.Tenant)
	}

	second := classroomsRun(ctx, e, store, "r2")
	if !queue.IsTerminal(second) || second.Error() != first.Error() {
		t.Errorf("second run: %v; want the same terminal reason %q", second, first)
	}
	if bt.probes != 1 {
		t.Errorf("the education API was probed %d times; want once (the finding is kept)", bt.probes)
	}
	if _, _, err := store.LoadPlan(ctx, "biz", "r2", tenant.EntityClassrooms); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("a refused run saved a plan (%v)", err)
	}
}

// A customer the tenant check found not to be an education tenant is
// refused before anything is read.
func TestClassroomsRefusedForCheckedBusinessTenant(t *testing.T) {
	ctx := context.Background()
	checked := &tenant.TenantInfo{VerifiedDomains: []string{"biz.example"}, SKUs: []string{"O365_BUSINESS_PREMIUM"}, CheckedAt: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)}
	e, bt, store := classroomsOn(t, tenant.Customer{ID: "biz", TenantID: "t-biz", Tenant: checked})
	err := classroomsRun(ctx, e, store, "r1")
	if !queue.IsTerminal(err) || !errors.Is(err, classplan.ErrNotEducation) || !strings.Contains(err.Error(), "tenant check") {
		t.Errorf("run: %v; want a terminal refusal naming the tenant check", err)
	}
	if bt.probes != 0 {
		t.Errorf("probed %d times; want none", bt.probes)
	}
}

// A later tenant check replaces the recorded refusal: the customer counts
// as education again when it finds an education tenant.
func TestRecordNotEducationIsReplacedByATenantCheck(t *testing.T) {
	c := tenant.Customer{ID: "biz", Education: true, Tenant: &tenant.TenantInfo{DisplayName: "Biz", Education: true}}
	shared := c.Tenant
	c.RecordNotEducation("not an education tenant: x", time.Now())
	if isEducation(c) || shared.EducationRefusal != "" || c.Tenant.DisplayName != "Biz" {
		t.Fatalf("recorded: education %v, shared record changed %q, name %q", isEducation(c), shared.EducationRefusal, c.Tenant.DisplayName)
	}
	c.Tenant, c.Education = &tenant.TenantInfo{Education: true, CheckedAt: time.Now()}, true
	if !isEducation(c) {
		t.Error("a new tenant check finding education is not believed")
	}
}
