package e2e

import (
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/runs"
)

// classroomsBenchScale is the simulator's clock for the classrooms
// benchmark: the run is bound by Teams' 15-minute replication window (or,
// with education writes charged to the directory quota, by about as long
// a wait on the write quota), 15 s of real time at ×60, long beside the
// CPU time the process and the simulator spend on its 20,000 writes.
const classroomsBenchScale = 60

// BenchmarkUsersAndClassrooms provisions a school of 1,500 pupils and 150
// staff (1,607 active people), then its 641 classes (584 scheduled
// classes, 57 registration groups) as Teams classes, into an empty
// education tenant with Graph's default limits and Teams' delays (a new
// class's group refuses a team for 15 minutes; a team takes 20 s to
// provision), at ×60. It reports the elapsed Graph time against the bound
// max(writes needed ÷ the write quota after its burst, teams ÷ Teams'
// creation rate, the replication wait before a class's first team can be
// made), taking every figure from graphsim's Limits and Options, twice:
// with education writes on their own quota (Graph's documented limits) and
// charged to the directory's as well (graphsim's
// EducationWritesChargeDirectory: undocumented either way). The writes
// needed are, per account its create, and per class its create, one $ref
// per teacher and per member (the education/users form) and its team.
func BenchmarkUsersAndClassrooms(b *testing.B) {
	for _, v := range []struct {
		name   string
		charge bool
	}{{"education-quota", false}, {"directory-quota", true}} {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				benchUsersAndClassrooms(b, v.charge)
			}
		})
	}
}

func benchUsersAndClassrooms(b *testing.B, charge bool) {
	b.StopTimer()
	limits := graphsim.DefaultLimits()
	limits.EducationWritesChargeDirectory = charge
	opts := graphsim.Options{TimeScale: classroomsBenchScale, Limits: &limits,
		TeamReplicationDelay: graphsim.DefaultTeamReplicationDelay, TeamProvisioningDelay: graphsim.DefaultTeamProvisioningDelay}
	e := newEnvOpts(b, opts)
	day1 := school(1500, 150)
	prof := classroomsProfile()
	b.StartTimer()

	start := time.Now()
	in := e.input(runs.ModeApply)
	in.Profile = prof
	users := e.syncEntity(e.users(day1), in)
	usersDone := time.Since(start)
	classes := e.syncEntity(e.classrooms(day1), e.classroomsInput(prof))
	elapsed := time.Since(start)
	b.StopTimer()
	noFailures(b, "users", users)
	noFailures(b, "classrooms", classes)

	st := e.stats()
	accounts, education, teams := 0, 0, 0
	ts, _ := e.sim.ExportTenant(tenantID)
	accounts = len(ts.Users)
	for _, g := range ts.Groups {
		if g["educationClass"] == nil {
			continue
		}
		owners, _ := g["owners"].([]string)
		members, _ := g["members"].([]string)
		education += 1 + len(owners) + len(members)
		if g["team"] != nil {
			teams++
		}
	}
	if want := len(wantClasses(day1)); teams != want {
		b.Errorf("%d classes have their team, want %d", teams, want)
	}
	directory := accounts
	if charge {
		directory += education
	}
	rate := float64(limits.AppTenantWrites) / limits.AppTenantWindow.Seconds()
	teamsRate := limits.TeamsAppTenantRPS["POST /teams"]
	quotaBound := max(float64(directory-limits.AppTenantWrites), 0) / rate
	teamsBound := float64(teams) / teamsRate
	replicationBound := opts.TeamReplicationDelay.Seconds()
	bound := max(quotaBound, teamsBound, replicationBound)
	graphSeconds := elapsed.Seconds() * classroomsBenchScale

	b.ReportMetric(float64(accounts), "accounts")
	b.ReportMetric(float64(classes["applied.create"]), "classes")
	b.ReportMetric(float64(teams), "teams")
	b.ReportMetric(float64(e.requests.Load()), "http-requests")
	b.ReportMetric(float64(st.Writes), "writes")
	b.ReportMetric(float64(accounts+education+teams), "min-writes")
	b.ReportMetric(float64(st.Requests["POST teams"]), "team-posts")
	b.ReportMetric(float64(st.Requests["GET teams"]), "team-gets")
	b.ReportMetric(float64(st.Throttled), "429s")
	b.ReportMetric(usersDone.Seconds()*classroomsBenchScale, "users-graph-s")
	b.ReportMetric(graphSeconds, "graph-s")
	b.ReportMetric(quotaBound, "quota-bound-s")
	b.ReportMetric(teamsBound, "teams-bound-s")
	b.ReportMetric(replicationBound, "replication-bound-s")
	b.ReportMetric(bound, "bound-s")
	b.ReportMetric(graphSeconds/bound, "ratio-to-bound")
	b.Logf("%s: %d accounts, %d classes with teams in %.0f s of Graph time (users %.0f s); bound %.0f s (quota %.0f, teams %.0f, replication %.0f): ratio %.2f; %d writes (minimum %d), %d POST /teams, %d 429s (%v)",
		map[bool]string{false: "education quota", true: "directory quota"}[charge], accounts, teams, graphSeconds, usersDone.Seconds()*classroomsBenchScale,
		bound, quotaBound, teamsBound, replicationBound, graphSeconds/bound, st.Writes, accounts+education+teams, st.Requests["POST teams"], st.Throttled, st.ThrottledByKind)
	b.StartTimer()
}
