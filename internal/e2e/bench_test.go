package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

// benchScale runs the simulated Graph this many times faster than real
// time; every throttle window shrinks by the same factor, so the ratio to
// the lower bound keeps its meaning while the run is bound by the write
// quota. It stopped being so once new accounts joined their groups 20 at
// a time: 1,650 accounts now need about 3,300 writes, 300 past the
// 3,000-write burst, a bound of 15 s of Graph time, and at ×60 that is
// 0.25 s of real time — less than the CPU time the process and the
// simulator spend on 3,300 writes, which a scaled clock would count 60
// times over. Graph's clock runs at its own speed (×1) here.
const benchScale = 1

// BenchmarkInitialUsersSync provisions a school of 1,500 pupils and 150
// staff (each new account also gets a licence and a security group, as
// schools configure it) into an empty simulated tenant with Graph's default
// limits, then runs again with nothing changed. It reports Graph requests,
// writes and 429s, the elapsed time in Graph time, and that time as a ratio
// to the lower bound the write quota imposes: the writes beyond the
// 3,000-write initial bucket at 20 writes per second.
func BenchmarkInitialUsersSync(b *testing.B) {
	for range b.N {
		b.StopTimer()
		e := newEnv(b, benchScale, nil, seedLicenceAndGroups)
		day1 := school(1500, 150)
		u := e.users(day1)
		b.StartTimer()

		start := time.Now()
		in := e.input(runs.ModeApply)
		in.Profile.Users = licensedRules()
		_, counts, done, err := e.steps(context.Background(), u, in, 500)
		elapsed := time.Since(start)
		if err != nil || !done {
			b.Fatalf("initial sync: done %t, %v", done, err)
		}
		b.StopTimer()
		st := e.stats()
		graphSeconds := elapsed.Seconds() * benchScale
		lowerBound := max(float64(st.Writes)-3000, 0) / 20
		b.ReportMetric(float64(counts["applied.create"]), "accounts")
		b.ReportMetric(float64(e.requests.Load()), "graph-requests")
		b.ReportMetric(float64(st.Writes), "writes")
		if n := counts["applied.create"]; n > 0 {
			b.ReportMetric(float64(st.Writes)/float64(n), "writes/account")
		}
		b.ReportMetric(float64(st.Throttled), "429s")
		b.ReportMetric(graphSeconds, "graph-s")
		b.ReportMetric(lowerBound, "bound-s")
		if lowerBound > 0 {
			b.ReportMetric(graphSeconds/lowerBound, "ratio-to-bound")
		}

		// A no-change run, once Graph's reads show every new account.
		time.Sleep(2 * graphsim.DefaultConsistencyDelay / benchScale)
		reqBefore, writesBefore := e.requests.Load(), st.Writes
		in = e.input(runs.ModeApply)
		in.Profile.Users = licensedRules()
		if _, _, done, err := e.steps(context.Background(), u, in, 10); err != nil || !done {
			b.Fatalf("second sync: done %t, %v", done, err)
		}
		b.ReportMetric(float64(e.requests.Load()-reqBefore), "rerun-requests")
		b.ReportMetric(float64(e.stats().Writes-writesBefore), "rerun-writes")
		b.StartTimer()
	}
}

func seedLicenceAndGroups(ts *graphsim.TenantState) {
	ts.SubscribedSkus = []graphsim.SkuState{{SkuID: skuA1, SkuPartNumber: "STANDARDWOFFPACK_STUDENT", Seats: 10000}}
	ts.Groups = append(ts.Groups,
		map[string]any{"id": groupStudents, "displayName": "All students", "securityEnabled": true, "mailEnabled": false, "mailNickname": "allstudents", "members": []string{}},
		map[string]any{"id": groupStaff, "displayName": "All staff", "securityEnabled": true, "mailEnabled": false, "mailNickname": "allstaff", "members": []string{}})
}

const (
	skuA1         = "94763226-9b3c-4e75-a931-5c89701abe66"
	groupStudents = "0b0b0b0b-0000-4000-8000-000000000001"
	groupStaff    = "0b0b0b0b-0000-4000-8000-000000000002"
)

func licensedRules() *tenant.UsersConfig {
	rules := tenant.DefaultUsersConfig()
	for name, t := range rules.Types {
		t.Licenses = []string{skuA1}
		t.Groups = []string{groupStaff}
		if name == tenant.UserStudent {
			t.Groups = []string{groupStudents}
		}
		rules.Types[name] = t
	}
	return &rules
}

// BenchmarkInitialUsersAndGroups provisions a school of 1,500 pupils and
// 150 staff (accounts with a licence and a security group, as in
// BenchmarkInitialUsersSync), then its registration and teaching groups as
// Microsoft 365 groups, into an empty simulated tenant with Graph's
// default limits, then runs both again with nothing changed. It reports
// the writes made against the minimum — 2 writes per account (create,
// licence) plus its security groups' binds 20 at a time, and per class
// group 1 + ⌈(owners+members−20)/20⌉ — and the elapsed Graph time against
// the bound the write quota puts on that minimum: the writes beyond the
// 3,000-write burst at 20 writes per second.
func BenchmarkInitialUsersAndGroups(b *testing.B) {
	for range b.N {
		b.StopTimer()
		e := newEnv(b, benchScale, nil, seedLicenceAndGroups)
		day1 := school(1500, 150)
		prof := groupsProfile()
		prof.Users = licensedRules()
		b.StartTimer()

		start := time.Now()
		in := e.input(runs.ModeApply)
		in.Profile = prof
		users := e.syncEntity(e.users(day1), in)
		in.Job.Entity, in.Job.Step, in.Job.Cursor = tenant.EntityGroups, 0, ""
		groups := e.syncEntity(e.groups(day1), in)
		elapsed := time.Since(start)
		b.StopTimer()
		if users["failed.create"]+groups["failed.create"]+groups["failed.update"] != 0 {
			b.Fatalf("initial sync failed changes: users %v groups %v", users, groups)
		}
		st := e.stats()
		minimum := minimumWrites(e, users["applied.create"])
		graphSeconds := elapsed.Seconds() * benchScale
		bound := max(float64(minimum)-3000, 0) / 20
		b.ReportMetric(float64(users["applied.create"]), "accounts")
		b.ReportMetric(float64(groups["applied.create"]), "groups")
		b.ReportMetric(float64(e.requests.Load()), "graph-requests")
		b.ReportMetric(float64(st.Writes), "writes")
		b.ReportMetric(float64(minimum), "min-writes")
		b.ReportMetric(float64(st.Writes)/float64(minimum), "writes/min")
		b.ReportMetric(float64(st.Throttled), "429s")
		b.ReportMetric(graphSeconds, "graph-s")
		b.ReportMetric(bound, "bound-s")
		if bound > 0 {
			b.ReportMetric(graphSeconds/bound, "ratio-to-bound")
		}

		// A no-change night, once Graph's reads show every new object.
		time.Sleep(2 * graphsim.DefaultConsistencyDelay / benchScale)
		reqBefore, writesBefore := e.requests.Load(), st.Writes
		in = e.input(runs.ModeApply)
		in.Profile = prof
		e.syncEntity(e.users(day1), in)
		in.Job.Entity, in.Job.Step, in.Job.Cursor = tenant.EntityGroups, 0, ""
		e.syncEntity(e.groups(day1), in)
		reqs, writes := e.requests.Load()-reqBefore, e.stats().Writes-writesBefore
		b.ReportMetric(float64(reqs), "rerun-requests")
		b.ReportMetric(float64(writes), "rerun-writes")
		if writes != 0 || reqs > 20 {
			b.Errorf("the no-change night made %d requests and %d writes, want at most 20 and none", reqs, writes)
		}

		// The first night reads back, through groups/delta, the groups the
		// initial run made after its read; a second quiet night reads only
		// the changes since the deltaLink the first one stored: none.
		reqBefore, writesBefore = e.requests.Load(), e.stats().Writes
		in = e.input(runs.ModeApply)
		in.Profile = prof
		e.syncEntity(e.users(day1), in)
		in.Job.Entity, in.Job.Step, in.Job.Cursor = tenant.EntityGroups, 0, ""
		e.syncEntity(e.groups(day1), in)
		reqs, writes = e.requests.Load()-reqBefore, e.stats().Writes-writesBefore
		b.ReportMetric(float64(reqs), "quiet-night-requests")
		if writes != 0 || reqs >= 10 {
			b.Errorf("the second no-change night made %d requests and %d writes, want fewer than the first's full groups read and none", reqs, writes)
		}
		b.StartTimer()
	}
}

// minimumWrites is the fewest writes the tenant's final state takes from
// empty: per account a create and a licence, each security group's
// members 20 binds a write, and each Microsoft 365 group one create
// carrying 20 binds plus one PATCH per further 20.
func minimumWrites(e *env, accounts int) int {
	ts, _ := e.sim.ExportTenant(tenantID)
	n := 2 * accounts
	for _, g := range ts.Groups {
		members, _ := g["members"].([]string)
		owners, _ := g["owners"].([]string)
		switch g["id"] {
		case groupStudents, groupStaff: // seeded: only their members are written
			n += (len(members) + 19) / 20
		default:
			n += 1 + (max(len(owners)+len(members)-20, 0)+19)/20
		}
	}
	return n
}
