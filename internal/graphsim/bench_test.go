package graphsim

import (
	"fmt"
	"testing"
)

// BenchmarkSchoolProvisioning provisions graph.md's assumed school (1,650
// users, 609 groups, about 19,000 memberships by 20-member PATCH) in-process
// with throttling off, to show the simulator itself is not the bottleneck
// of a benchmark. Run: go test -run x -bench School -benchtime 1x ./internal/graphsim
func BenchmarkSchoolProvisioning(b *testing.B) {
	for b.Loop() {
		l := DefaultLimits()
		l.Disabled = true
		h := newHarness(b, Options{Limits: &l})
		var users []string
		for i := range 1650 {
			users = append(users, h.createUser(fmt.Sprintf("pupil%04d", i)))
		}
		for c := range 609 {
			g := h.createGroup(fmt.Sprintf("class%03d", c), true)
			members := make([]string, 0, 30)
			for k := range 30 {
				members = append(members, users[(c*30+k)%len(users)])
			}
			for i := 0; i < len(members); i += 20 {
				res := h.do("PATCH", "/v1.0/groups/"+g, map[string]any{"members@odata.bind": userRefs(members[i:min(i+20, len(members))]...)})
				if res.status != 204 {
					b.Fatalf("PATCH = %d %s", res.status, res.raw)
				}
			}
		}
		res := h.do("GET", "/v1.0/groups/delta?$select=members", nil)
		if res.status != 200 {
			b.Fatalf("delta = %d", res.status)
		}
	}
}
