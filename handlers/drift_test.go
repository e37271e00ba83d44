package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// fakeDrift answers a fixed drift list, or err; it records the customers
// and profiles it was asked about.
type fakeDrift struct {
	drift []plan.Drift
	err   error
	asked []string
}

func (f *fakeDrift) Drift(ctx context.Context, c tenant.Customer, profileID string) ([]plan.Drift, error) {
	f.asked = append(f.asked, c.ID+"/"+profileID)
	if profileID == "missing" {
		return nil, fmt.Errorf("profile missing: %w", state.ErrNotFound)
	}
	return f.drift, f.err
}

func someDrift(n int) []plan.Drift {
	out := make([]plan.Drift, n)
	for i := range out {
		out[i] = plan.Drift{Entity: "groups", ProfileID: "nightly", Kind: plan.KindGroup, Key: fmt.Sprintf("cls-%02d", i), TargetID: fmt.Sprintf("g-%02d", i),
			Differences: []plan.Difference{{Field: "members", Member: "acc-1", MemberSourcedID: "s1", Tenant: plan.Absent, Rostersync: plan.Present}},
			Next:        plan.NextRun{Action: plan.Update, Reason: "update_because_membership_differs", Detail: "1 member(s) to add"}}
	}
	out[0].Next = plan.NextRun{Action: plan.LeaveAlone, Reason: plan.KeptBecauseDisabledOutsideMIS}
	return out
}

// The drift list is paged like the other lists, and every answer (list,
// empty list, each error) is the document's (the contract checker).
func TestDriftAPI(t *testing.T) {
	f := newAPIFixture(t)
	d := &fakeDrift{drift: someDrift(5)}

	// Without a reporter (no Graph) the answer is 503.
	checkProblem(t, f.do(t, "GET", "/api/customers/oak/drift", ""), http.StatusServiceUnavailable, ProblemUnavailable)
	f.raw.SetDriftReporter(d)

	var got []plan.Drift
	path := "/api/customers/oak/drift?top=2"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 5 items at top=2")
		}
		rec := f.do(t, "GET", path, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
		}
		var page struct {
			Value    []plan.Drift `json:"value"`
			NextLink string       `json:"nextLink"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Value) > 2 {
			t.Errorf("page of %d items, want at most 2", len(page.Value))
		}
		got, path = append(got, page.Value...), page.NextLink
	}
	if want := someDrift(5); !reflect.DeepEqual(got, want) {
		t.Errorf("drift read page by page = %+v, want %+v", got, want)
	}

	// No drift: an empty list, not null.
	d.drift = nil
	if rec := f.do(t, "GET", "/api/customers/oak/drift", ""); rec.Code != http.StatusOK || rec.Body.String() != "{\n  \"value\": []\n}\n" {
		t.Errorf("no drift = %d %q, want 200 with an empty value", rec.Code, rec.Body)
	}
	if rec := f.do(t, "GET", "/api/customers/oak/drift?profile=nightly", ""); rec.Code != http.StatusOK || d.asked[len(d.asked)-1] != "oak/nightly" {
		t.Errorf("drift of one profile = %d, asked %q", rec.Code, d.asked)
	}

	asked := len(d.asked)
	checkProblem(t, f.do(t, "GET", "/api/customers/ash/drift", ""), http.StatusNotFound, ProblemNotFound)
	checkProblem(t, f.do(t, "GET", "/api/customers/oak/drift?profile=missing", ""), http.StatusNotFound, ProblemNotFound)
	checkProblem(t, f.do(t, "GET", "/api/customers/oak/drift?top=0", ""), http.StatusBadRequest, ProblemValidation)
	checkProblem(t, f.do(t, "GET", "/api/customers/oak/drift?continuation=%21", ""), http.StatusBadRequest, ProblemValidation)
	if err := f.store.PutCustomer(t.Context(), tenant.Customer{ID: "ash"}); err != nil {
		t.Fatal(err)
	}
	checkProblem(t, f.do(t, "GET", "/api/customers/ash/drift", ""), http.StatusConflict, ProblemConflict)
	d.err = fmt.Errorf("%w: profile nightly, users: roster feed rejected", ErrCannotPlan)
	checkProblem(t, f.do(t, "GET", "/api/customers/oak/drift", ""), http.StatusConflict, ProblemConflict)
	d.err = errors.New("graph answered 500")
	checkProblem(t, f.do(t, "GET", "/api/customers/oak/drift", ""), http.StatusInternalServerError, ProblemInternal)
	d.err = &DependencyError{Dependency: "graph", Err: errors.New("no token")}
	checkProblem(t, f.do(t, "GET", "/api/customers/oak/drift", ""), http.StatusServiceUnavailable, ProblemUnavailable)
	// Refused before the reporter: unknown customer, bad page, no tenant.
	if n := len(d.asked) - asked; n != 4 {
		t.Errorf("reporter asked %d times for the 8 refused requests, want 4 (the missing profile and the 3 failures)", n)
	}
}
