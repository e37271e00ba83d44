package classplan

import (
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Keys lists the classrooms the roster asks for under the profile's rules,
// by the key their links are kept under (a class sourcedId, or
// course:{sourcedId} in subject mode), each with the displayName a new
// classroom would take: what a match file may name.
func Keys(v *roster.View, rules tenant.ClassroomsConfig) map[string]string {
	out := map[string]string{}
	for _, w := range wanted(v, rules.WithDefaults(), nil) {
		out[w.key] = w.displayName
	}
	return out
}
