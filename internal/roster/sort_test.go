package roster

import (
	"fmt"
	"testing"
)

// TestSortAndFindDoNotAllocatePerComparison: a trust's roster has hundreds
// of thousands of enrolments, so checking an already sorted roster and
// looking a row up must cost no allocation per row or probe; an unsorted
// one is sorted stably by SourcedID.
func TestSortAndFindDoNotAllocatePerComparison(t *testing.T) {
	r := &Roster{}
	for i := range 2000 {
		r.Enrollments = append(r.Enrollments, Enrollment{SourcedID: fmt.Sprintf("e%05d", i), Class: "c"})
		r.Orgs = append(r.Orgs, Org{SourcedID: fmt.Sprintf("o%05d", i)})
	}
	if allocs := testing.AllocsPerRun(10, r.Sort); allocs != 0 {
		t.Errorf("Sort of a sorted roster made %v allocations, want 0", allocs)
	}
	if allocs := testing.AllocsPerRun(10, func() { _ = r.Org("o01234") }); allocs != 0 {
		t.Errorf("Org lookup made %v allocations, want 0", allocs)
	}
	if o := r.Org("o01234"); o == nil || o.SourcedID != "o01234" {
		t.Errorf("Org(o01234) = %+v", o)
	}
	if o := r.Org("o99999"); o != nil {
		t.Errorf("Org of a missing id = %+v, want nil", o)
	}

	// Unsorted, with a duplicate id: sorted, equal ids kept in order.
	r.Enrollments = []Enrollment{{SourcedID: "b", Class: "1"}, {SourcedID: "a"}, {SourcedID: "b", Class: "2"}, {SourcedID: "0"}}
	r.Sort()
	got := ""
	for _, e := range r.Enrollments {
		got += e.SourcedID + e.Class + " "
	}
	if want := "0 a b1 b2 "; got != want {
		t.Errorf("sorted enrolments = %q, want %q", got, want)
	}
}
