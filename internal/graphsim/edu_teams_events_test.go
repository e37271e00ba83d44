package graphsim

import (
	"strings"
	"testing"
	"time"
)

func TestEducation(t *testing.T) {
	h := newHarness(t, Options{})
	res := h.do("POST", "/v1.0/education/classes", map[string]any{
		"displayName": "8Y Science", "mailNickname": "8yscience", "description": "Science", "classCode": "8YSC",
		"externalId": "CLS-8YSC", "externalName": "8Y Science", "externalSource": "sis",
	})
	h.want(res, 201, "")
	cls := str(res.body["id"])
	if res.body["externalId"] != "CLS-8YSC" || res.body["classCode"] != "8YSC" {
		t.Errorf("class = %v", res.body)
	}
	// The class is a Microsoft 365 group with the same id, and no team.
	g := h.do("GET", "/v1.0/groups/"+cls, nil)
	h.want(g, 200, "")
	if gt := g.body["groupTypes"].([]any); len(gt) != 1 || gt[0] != "Unified" {
		t.Errorf("class group = %v", g.body)
	}
	h.want(h.do("GET", "/v1.0/teams/"+cls, nil), 404, CodeNotFound)

	eu := h.do("POST", "/v1.0/education/users", func() map[string]any {
		b := newUserBody("edu.pupil")
		b["primaryRole"] = "student"
		b["student"] = map[string]any{"externalId": "S-9", "grade": "8"}
		b["externalSource"] = "sis"
		return b
	}())
	h.want(eu, 201, "")
	pupil := str(eu.body["id"])
	if eu.body["primaryRole"] != "student" {
		t.Errorf("education user = %v", eu.body)
	}
	noLoc := newUserBody("edu.noloc")
	delete(noLoc, "usageLocation")
	h.want(h.do("POST", "/v1.0/education/users", noLoc), 400, CodeRequestBadRequest)

	ref := func(id string) map[string]any {
		return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/education/users/" + id}
	}
	h.want(h.do("POST", "/v1.0/education/classes/"+cls+"/members/$ref", ref(pupil)), 204, "")
	h.want(h.do("POST", "/v1.0/education/classes/"+cls+"/teachers/$ref", ref(ada)), 204, "")
	h.want(h.do("POST", "/v1.0/education/classes/"+cls+"/members/$ref", ref(ada)), 204, "")
	res = h.do("POST", "/v1.0/education/classes/"+cls+"/members/$ref", ref(pupil))
	h.want(res, 400, CodeRequestBadRequest)
	if !strings.Contains(res.errMessage(), "'members'") {
		t.Errorf("duplicate member message = %q", res.errMessage())
	}
	res = h.do("POST", "/v1.0/education/classes/"+cls+"/teachers/$ref", ref(ada))
	if !strings.Contains(res.errMessage(), "'teachers'") {
		t.Errorf("duplicate teacher message = %q", res.errMessage())
	}
	h.want(h.do("POST", "/v1.0/education/classes/"+cls+"/members/$ref", ref("00000000-0000-4000-8000-00000000beef")), 404, CodeResourceNotFound)
	// Only the education/users form the add-member and add-teacher pages
	// show is taken.
	for _, bad := range []string{
		"https://graph.microsoft.com/v1.0/users/" + sam,
		"https://graph.microsoft.com/v1.0/directoryObjects/" + sam,
		sam,
	} {
		for _, rel := range []string{"members", "teachers"} {
			res := h.do("POST", "/v1.0/education/classes/"+cls+"/"+rel+"/$ref", map[string]any{"@odata.id": bad})
			h.want(res, 400, CodeBadRequest)
			if !strings.Contains(res.errMessage(), "education/users/{id}") {
				t.Errorf("%s ref %q message = %q", rel, bad, res.errMessage())
			}
		}
	}
	h.want(h.do("POST", "/v1.0/education/classes/"+cls+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/education/users('" + sam + "')"}), 204, "")
	h.want(h.do("DELETE", "/v1.0/education/classes/"+cls+"/members/"+sam+"/$ref", nil), 204, "")
	teachers := h.do("GET", "/v1.0/education/classes/"+cls+"/teachers", nil).body["value"].([]any)
	members := h.do("GET", "/v1.0/education/classes/"+cls+"/members", nil).body["value"].([]any)
	if len(teachers) != 1 || len(members) != 2 || teachers[0].(map[string]any)["primaryRole"] != "teacher" {
		t.Errorf("teachers %v members %d", teachers, len(members))
	}
	// Group view agrees: teachers are owners.
	if o := h.do("GET", "/v1.0/groups/"+cls+"/owners", nil).body["value"].([]any); len(o) != 1 {
		t.Errorf("group owners = %v", o)
	}
	h.want(h.do("DELETE", "/v1.0/education/classes/"+cls+"/members/"+pupil+"/$ref", nil), 204, "")
	h.want(h.do("DELETE", "/v1.0/education/classes/"+cls+"/teachers/"+ada+"/$ref", nil), 204, "")

	// Schools.
	res = h.do("POST", "/v1.0/education/schools", map[string]any{"displayName": "Second School", "externalId": "URN-2", "schoolNumber": "2"})
	h.want(res, 201, "")
	sch := str(res.body["id"])
	h.want(h.do("POST", "/v1.0/education/schools/"+sch+"/classes/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/education/classes/" + cls}), 204, "")
	h.want(h.do("POST", "/v1.0/education/schools/"+sch+"/classes/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/education/classes/" + cls}), 400, CodeRequestBadRequest)
	h.want(h.do("POST", "/v1.0/education/schools/"+sch+"/users/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/education/users/" + pupil}), 204, "")
	if n := len(h.do("GET", "/v1.0/education/schools/"+sch+"/classes", nil).body["value"].([]any)); n != 1 {
		t.Errorf("school classes = %d", n)
	}
	if n := len(h.do("GET", "/v1.0/education/schools", nil).body["value"].([]any)); n != 2 {
		t.Errorf("schools = %d, want 2", n)
	}
	if n := len(h.do("GET", "/v1.0/education/classes?$filter=externalId eq 'CLS-7XMA'", nil).body["value"].([]any)); n != 1 {
		t.Errorf("class filter = %d", n)
	}
	if n := len(h.do("GET", "/v1.0/education/users/"+ada+"/classes", nil).body["value"].([]any)); n != 2 {
		t.Errorf("ada's classes = %d, want the seeded one and 8Y Science", n)
	}
	res = h.do("GET", "/v1.0/education/classes/delta", nil)
	h.want(res, 200, "")
	classLink := strings.TrimPrefix(str(res.body["@odata.deltaLink"]), "http://sim.test")
	if n := len(res.body["value"].([]any)); n != 2 || classLink == "" {
		t.Errorf("classes delta = %d classes, link %q", n, classLink)
	}
	if n := len(h.do("GET", "/v1.0/education/users/delta", nil).body["value"].([]any)); n != 4 {
		t.Errorf("education users delta = %d, want 4", n)
	}
	if n := len(h.do("GET", "/v1.0/education/schools/delta", nil).body["value"].([]any)); n != 2 {
		t.Errorf("schools delta = %d, want 2", n)
	}
	h.want(h.do("PATCH", "/v1.0/education/classes/"+cls, map[string]any{"description": "Physics"}), 200, "")
	if v := h.do("GET", classLink, nil).body["value"].([]any); len(v) != 1 || v[0].(map[string]any)["description"] != "Physics" {
		t.Errorf("classes delta after PATCH = %v", v)
	}
	h.want(h.do("DELETE", "/v1.0/education/classes/"+cls, nil), 204, "")
	h.want(h.do("GET", "/v1.0/education/classes/"+cls, nil), 404, CodeResourceNotFound)

	t.Run("business tenant refuses", func(t *testing.T) {
		h.t = t
		h.tok = "Bearer sim:" + bizTenant
		defer func() { h.tok = "Bearer sim:" + eduTenant }()
		res := h.do("GET", "/v1.0/education/schools", nil)
		h.want(res, 200, "")
		if n := len(res.body["value"].([]any)); n != 0 {
			t.Errorf("business tenant lists %d schools", n)
		}
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1.0/education/classes"}, {"POST", "/v1.0/education/classes"}, {"GET", "/v1.0/education/users"},
			{"POST", "/v1.0/education/schools"},
		} {
			var body any
			if c.method == "POST" {
				body = map[string]any{"displayName": "x", "mailNickname": "x"}
			}
			res := h.do(c.method, c.path, body)
			h.want(res, 400, CodeUnsupportedQuery)
			if !strings.Contains(res.errMessage(), "Education_ObjectType") {
				t.Errorf("%s %s message = %q", c.method, c.path, res.errMessage())
			}
		}
	})
}

func TestTeams(t *testing.T) {
	h := newHarness(t, Options{TeamReplicationDelay: 15 * time.Minute, TeamProvisioningDelay: 20 * time.Second, TimeScale: 60})
	res := h.do("POST", "/v1.0/groups", map[string]any{"displayName": "9Z History", "mailNickname": "9zhistory", "mailEnabled": true, "securityEnabled": false,
		"groupTypes": []string{"Unified"}, "owners@odata.bind": userRefs(ada)})
	h.want(res, 201, "")
	g := str(res.body["id"])
	// Young group: 404 for 15 min / 60 = 15 s.
	res = h.do("PUT", "/v1.0/groups/"+g+"/team", map[string]any{})
	h.want(res, 404, CodeNotFound)
	h.clk.Advance(14 * time.Second)
	h.want(h.do("PUT", "/v1.0/groups/"+g+"/team", map[string]any{}), 404, CodeNotFound)
	h.clk.Advance(time.Second)
	res = h.do("PUT", "/v1.0/groups/"+g+"/team", map[string]any{"memberSettings": map[string]any{"allowCreateUpdateChannels": false}})
	h.want(res, 201, "")
	if res.body["id"] != g || res.body["isArchived"] != false {
		t.Errorf("team = %v", res.body)
	}
	h.want(h.do("PUT", "/v1.0/groups/"+g+"/team", map[string]any{}), 409, CodeConflict)
	h.want(h.do("GET", "/v1.0/teams/"+g, nil), 200, "")

	// The educationClass template is refused on a plain Microsoft 365
	// group (msgraph-sdk-dotnet#532) and accepted on a class's group.
	plain := h.createGroup("tplain", true)
	h.want(h.do("POST", "/v1.0/groups/"+plain+"/owners/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/users/" + ada}), 204, "")
	res = h.do("POST", "/v1.0/education/classes", map[string]any{"displayName": "T Class", "mailNickname": "tclass"})
	h.want(res, 201, "")
	cls := str(res.body["id"])
	h.want(h.do("POST", "/v1.0/education/classes/"+cls+"/teachers/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/education/users/" + ada}), 204, "")
	h.want(h.do("POST", "/v1.0/education/classes/"+cls+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/education/users/" + ada}), 204, "")
	h.clk.Advance(15 * time.Second)
	res = h.do("POST", "/v1.0/teams", map[string]any{
		"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('educationClass')",
		"group@odata.bind":    "https://graph.microsoft.com/v1.0/groups('" + plain + "')",
	})
	h.want(res, 400, CodeBadRequest)
	if !strings.Contains(res.errMessage(), "Team with template 'educationClass' can not be provisioned using a group which does not belong to a class.") {
		t.Errorf("plain group message = %q", res.errMessage())
	}
	body := map[string]any{
		"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('educationClass')",
		"group@odata.bind":    "https://graph.microsoft.com/v1.0/groups('" + cls + "')",
	}
	res = h.do("POST", "/v1.0/teams", body)
	h.want(res, 202, "")
	loc := res.header.Get("Location")
	if !strings.HasPrefix(loc, "/teams('"+cls+"')/operations('") || res.header.Get("Content-Location") != "/teams('"+cls+"')" {
		t.Fatalf("Location %q Content-Location %q", loc, res.header.Get("Content-Location"))
	}
	// notStarted for the first quarter of the 20 s (/60), then inProgress.
	op := h.do("GET", "/v1.0"+loc, nil)
	h.want(op, 200, "")
	if op.body["status"] != "notStarted" || op.body["operationType"] != "createTeam" || op.body["error"] != nil {
		t.Errorf("operation = %v", op.body)
	}
	h.clk.Advance(100 * time.Millisecond)
	if op = h.do("GET", "/v1.0"+loc, nil); op.body["status"] != "inProgress" {
		t.Errorf("operation after 6 s = %v", op.body)
	}
	h.want(h.do("GET", "/v1.0/teams/"+cls, nil), 404, CodeNotFound)
	h.clk.Advance(900 * time.Millisecond) // past 20 s / 60
	op = h.do("GET", "/v1.0"+loc, nil)
	if op.body["status"] != "succeeded" || op.body["targetResourceId"] != cls {
		t.Errorf("operation = %v", op.body)
	}
	team := h.do("GET", "/v1.0/teams/"+cls, nil)
	if team.body["visibility"] != "hiddenMembership" || team.body["specialization"] != "educationClass" {
		t.Errorf("class team = %v", team.body)
	}
	// The roster: a teacher who is also a member is an owner on it; a
	// teacher who is not a member is not on it (educationclass.md: teachers
	// must be in both collections).
	h.want(h.do("POST", "/v1.0/education/classes/"+cls+"/teachers/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/education/users/" + sam}), 204, "")
	roster := h.do("GET", "/v1.0/teams/"+cls+"/members", nil)
	h.want(roster, 200, "")
	if v := roster.body["value"].([]any); len(v) != 1 || v[0].(map[string]any)["userId"] != ada || len(v[0].(map[string]any)["roles"].([]any)) != 1 {
		t.Errorf("roster with a teacher who is not a member = %v", v)
	}
	h.want(h.do("POST", "/v1.0/education/classes/"+cls+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/education/users/" + sam}), 204, "")
	if v := h.do("GET", "/v1.0/teams/"+cls+"/members", nil).body["value"].([]any); len(v) != 2 {
		t.Errorf("roster once the teacher is a member = %v", v)
	}
	h.want(h.do("GET", "/v1.0/teams/"+plain+"/members", nil), 404, CodeNotFound)
	// Inherited properties are refused with group@odata.bind.
	body["displayName"] = "x"
	h.want(h.do("POST", "/v1.0/teams", body), 400, CodeBadRequest)
	// Security groups and ownerless groups cannot have teams.
	sec := h.createGroup("tsec", false)
	h.clk.Advance(time.Minute)
	h.want(h.do("PUT", "/v1.0/groups/"+sec+"/team", map[string]any{}), 400, CodeBadRequest)
	lone := h.createGroup("tlone", true)
	h.clk.Advance(time.Minute)
	h.want(h.do("PUT", "/v1.0/groups/"+lone+"/team", map[string]any{}), 400, CodeBadRequest)

	// Archive and unarchive.
	h.want(h.do("POST", "/v1.0/teams/"+g+"/archive", map[string]any{"shouldSetSpoSiteReadOnlyForMembers": true}), 400, CodeBadRequest)
	res = h.do("POST", "/v1.0/teams/"+g+"/archive", nil)
	h.want(res, 202, "")
	h.clk.Advance(time.Second)
	if op := h.do("GET", "/v1.0"+res.header.Get("Location"), nil); op.body["operationType"] != "archiveTeam" || op.body["status"] != "succeeded" {
		t.Errorf("archive operation = %v", op.body)
	}
	if tm := h.do("GET", "/v1.0/teams/"+g, nil); tm.body["isArchived"] != true {
		t.Errorf("archived team = %v", tm.body)
	}
	h.want(h.do("POST", "/v1.0/teams/"+g+"/unarchive", nil), 202, "")
	h.clk.Advance(time.Second)
	if tm := h.do("GET", "/v1.0/teams/"+g, nil); tm.body["isArchived"] != false {
		t.Errorf("unarchived team = %v", tm.body)
	}

	// POST /teams without a group needs an owner member.
	res = h.do("POST", "/v1.0/teams", map[string]any{"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('standard')", "displayName": "Staff Room"})
	h.want(res, 400, CodeBadRequest)
	res = h.do("POST", "/v1.0/teams", map[string]any{
		"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('standard')", "displayName": "Staff Room",
		"members": []any{map[string]any{"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": []string{"owner"},
			"user@odata.bind": "https://graph.microsoft.com/v1.0/users('" + ada + "')"}},
	})
	h.want(res, 202, "")
	// A class team made without a group makes its group a class
	// (team-post.md example 6).
	res = h.do("POST", "/v1.0/teams", map[string]any{
		"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('educationClass')", "displayName": "My Class Team",
		"members": []any{map[string]any{"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": []string{"owner"},
			"user@odata.bind": "https://graph.microsoft.com/v1.0/users('" + ada + "')"}},
	})
	h.want(res, 202, "")
	newCls := strings.TrimSuffix(strings.TrimPrefix(res.header.Get("Content-Location"), "/teams('"), "')")
	h.want(h.do("GET", "/v1.0/education/classes/"+newCls, nil), 200, "")
}

// TestTeamOperationFailure injects failed teamsAsyncOperations: the
// operation reports failed with the error, no team exists, and a retry
// (the second attempt) succeeds; a failed archive leaves the team as it was.
func TestTeamOperationFailure(t *testing.T) {
	var seen []FaultOperation
	faults := &Faults{TeamOperation: func(f FaultOperation) *OperationError {
		seen = append(seen, f)
		if f.Attempt == 1 {
			return &OperationError{Code: "InternalServerError", Message: "Failed to provision the team."}
		}
		return nil
	}}
	h := newHarness(t, Options{TeamReplicationDelay: -1, TeamProvisioningDelay: 20 * time.Second, Faults: faults})
	g := h.createGroup("tfail", true, ada)
	h.want(h.do("POST", "/v1.0/groups/"+g+"/owners/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/users/" + ada}), 204, "")
	create := map[string]any{
		"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
		"group@odata.bind":    "https://graph.microsoft.com/v1.0/groups('" + g + "')",
	}
	res := h.do("POST", "/v1.0/teams", create)
	h.want(res, 202, "")
	loc := res.header.Get("Location")
	if op := h.do("GET", "/v1.0"+loc, nil); op.body["status"] != "notStarted" {
		t.Errorf("failing operation at first = %v", op.body)
	}
	// While it runs, a second create is a conflict.
	h.want(h.do("POST", "/v1.0/teams", create), 409, CodeConflict)
	h.clk.Advance(20 * time.Second)
	op := h.do("GET", "/v1.0"+loc, nil)
	e, _ := op.body["error"].(map[string]any)
	if op.body["status"] != "failed" || e["code"] != "InternalServerError" || e["message"] != "Failed to provision the team." {
		t.Fatalf("failed operation = %v", op.body)
	}
	h.want(h.do("GET", "/v1.0/teams/"+g, nil), 404, CodeNotFound)
	if rpo := h.do("GET", "/v1.0/groups/"+g, nil).body["resourceProvisioningOptions"].([]any); len(rpo) != 0 {
		t.Errorf("resourceProvisioningOptions after a failed create = %v", rpo)
	}
	st, _ := h.s.ExportTenant(eduTenant)
	for _, eg := range st.Groups {
		if eg["id"] == g && eg["team"] != nil {
			t.Errorf("a failed team is exported: %v", eg)
		}
	}
	// The retry is attempt 2 and succeeds.
	res = h.do("POST", "/v1.0/teams", create)
	h.want(res, 202, "")
	h.clk.Advance(20 * time.Second)
	if op := h.do("GET", "/v1.0"+res.header.Get("Location"), nil); op.body["status"] != "succeeded" || op.body["error"] != nil {
		t.Errorf("retried operation = %v", op.body)
	}
	h.want(h.do("GET", "/v1.0/teams/"+g, nil), 200, "")

	// The first archive fails: the team stays unarchived.
	res = h.do("POST", "/v1.0/teams/"+g+"/archive", nil)
	h.want(res, 202, "")
	h.clk.Advance(20 * time.Second)
	if op := h.do("GET", "/v1.0"+res.header.Get("Location"), nil); op.body["status"] != "failed" || op.body["operationType"] != "archiveTeam" {
		t.Errorf("archive operation = %v", op.body)
	}
	if tm := h.do("GET", "/v1.0/teams/"+g, nil); tm.body["isArchived"] != false {
		t.Errorf("team after a failed archive = %v", tm.body)
	}
	want := []FaultOperation{
		{TenantID: eduTenant, TeamID: g, OperationType: "createTeam", Attempt: 1},
		{TenantID: eduTenant, TeamID: g, OperationType: "createTeam", Attempt: 2},
		{TenantID: eduTenant, TeamID: g, OperationType: "archiveTeam", Attempt: 1},
	}
	if len(seen) != len(want) {
		t.Fatalf("fault calls = %+v", seen)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("fault call %d = %+v, want %+v", i, seen[i], want[i])
		}
	}
}

func TestTeamsRateLimit(t *testing.T) {
	h := newHarness(t, Options{TeamReplicationDelay: -1})
	var gs []string
	for i := range 7 {
		gs = append(gs, h.createGroup("rate"+string(rune('a'+i)), true))
		h.do("POST", "/v1.0/groups/"+gs[i]+"/owners/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/users/" + ada})
	}
	for i := range 6 {
		h.want(h.do("PUT", "/v1.0/groups/"+gs[i]+"/team", map[string]any{}), 201, "")
	}
	res := h.do("PUT", "/v1.0/groups/"+gs[6]+"/team", map[string]any{})
	h.want(res, 429, CodeTooManyRequests)
	if !strings.HasPrefix(res.header.Get("x-ms-throttle-scope"), "Tenant_Application/ReadWrite/") {
		t.Errorf("scope = %q", res.header.Get("x-ms-throttle-scope"))
	}
	if ra := res.header.Get("Retry-After"); ra != "0.167" {
		t.Errorf("Retry-After = %q, want 0.167 (6 per second)", ra)
	}
	h.clk.Advance(167 * time.Millisecond)
	h.want(h.do("PUT", "/v1.0/groups/"+gs[6]+"/team", map[string]any{}), 201, "")
}

// TestTeamsCreationRateScaled: POST /teams is a 10-per-second bucket per
// app per tenant (throttling-limits.md, Teams table), its refill divided by
// the time scale; and a 100-per-second bucket per app across tenants.
func TestTeamsCreationRateScaled(t *testing.T) {
	L := DefaultLimits()
	L.TeamsAppRPS["POST /teams"] = 15 // small enough to reach with two tenants
	h := newHarness(t, Options{TeamReplicationDelay: -1, TeamProvisioningDelay: -1, TimeScale: 60, Limits: &L})
	newTeam := func(owner string) *result {
		return h.do("POST", "/v1.0/teams", map[string]any{
			"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('standard')", "displayName": "Rate Team",
			"members": []any{map[string]any{"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": []string{"owner"},
				"user@odata.bind": "https://graph.microsoft.com/v1.0/users('" + owner + "')"}},
		})
	}
	for range 10 {
		h.want(newTeam(ada), 202, "")
	}
	res := newTeam(ada)
	h.want(res, 429, CodeTooManyRequests)
	if !strings.HasPrefix(res.header.Get("x-ms-throttle-scope"), "Tenant_Application/ReadWrite/") {
		t.Errorf("scope = %q", res.header.Get("x-ms-throttle-scope"))
	}
	// 1/10 s at ×60 is 1.67 ms.
	if ra := res.header.Get("Retry-After"); ra != "0.002" {
		t.Errorf("Retry-After = %q, want 0.002", ra)
	}
	h.clk.Advance(2 * time.Millisecond)
	h.want(newTeam(ada), 202, "")

	// Another tenant has its own per-tenant bucket but shares the app's.
	h.tok = "Bearer sim:" + bizTenant
	ub := newUserBody("rate.owner")
	ub["userPrincipalName"] = "rate.owner@fabrikam.onmicrosoft.com"
	res = h.do("POST", "/v1.0/users", ub)
	h.want(res, 201, "")
	biz := str(res.body["id"])
	// The app bucket holds 15 - 11 + 2 ms × 900/s = 5.8 by now.
	for range 5 {
		h.want(newTeam(biz), 202, "")
	}
	res = newTeam(biz)
	h.want(res, 429, CodeTooManyRequests)
	if !strings.HasPrefix(res.header.Get("x-ms-throttle-scope"), "Application/ReadWrite/") {
		t.Errorf("app-wide scope = %q", res.header.Get("x-ms-throttle-scope"))
	}
}

// TestEducationWritesChargeDirectory: with the (undocumented, default off)
// option, education writes spend the identity write quota and are throttled
// by it; without it they do not.
func TestEducationWritesChargeDirectory(t *testing.T) {
	for _, c := range []struct {
		name                string
		charge              bool
		userAfter, eduAfter int // status of a directory write and an education write once 3 education writes are done
	}{
		{"off", false, 201, 201},
		{"on", true, 429, 429},
	} {
		t.Run(c.name, func(t *testing.T) {
			L := DefaultLimits()
			L.AppTenantWrites = 3
			L.EducationWritesChargeDirectory = c.charge
			h := newHarness(t, Options{Limits: &L})
			for i := range 3 {
				nick := "chg" + string(rune('a'+i))
				h.want(h.do("POST", "/v1.0/education/classes", map[string]any{"displayName": nick, "mailNickname": nick}), 201, "")
			}
			// Reads are not charged to the write quota either way.
			h.want(h.do("GET", "/v1.0/education/classes", nil), 200, "")
			res := h.do("POST", "/v1.0/users", newUserBody("chg.user"))
			if res.status != c.userAfter {
				t.Fatalf("directory write after 3 education writes = %d %s, want %d", res.status, res.raw, c.userAfter)
			}
			if res.status == 429 && res.header.Get("x-ms-throttle-information") != "WriteLimitExceeded" {
				t.Errorf("x-ms-throttle-information = %q", res.header.Get("x-ms-throttle-information"))
			}
			res = h.do("POST", "/v1.0/education/classes", map[string]any{"displayName": "chgz", "mailNickname": "chgz"})
			if res.status != c.eduAfter {
				t.Errorf("education write after the quota = %d %s, want %d", res.status, res.raw, c.eduAfter)
			}
		})
	}
}

const tagID = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name MisLessonId"

func lesson(subject, tag, start, end string) map[string]any {
	return map[string]any{
		"subject":                       subject,
		"start":                         map[string]any{"dateTime": start, "timeZone": "UTC"},
		"end":                           map[string]any{"dateTime": end, "timeZone": "UTC"},
		"singleValueExtendedProperties": []any{map[string]any{"id": tagID, "value": tag}},
	}
}

func TestEvents(t *testing.T) {
	h := newHarness(t, Options{})
	base := "/v1.0/users/" + ada + "/events"
	ev := lesson("8Y Science", "L-8YSC-1", "2026-09-08T09:00:00", "2026-09-08T10:00:00")
	ev["transactionId"] = "tx-1"
	res := h.do("POST", base, ev)
	h.want(res, 201, "")
	id := str(res.body["id"])
	if res.body["transactionId"] != "tx-1" || res.body["subject"] != "8Y Science" {
		t.Errorf("event = %v", res.body)
	}
	if _, ok := res.body["singleValueExtendedProperties"]; ok {
		t.Errorf("extended properties returned without $expand")
	}
	// A retried create with the same transactionId returns the same event.
	again := h.do("POST", base, ev)
	h.want(again, 201, "")
	if again.body["id"] != id {
		t.Errorf("transactionId retry made a second event %v", again.body["id"])
	}
	noTx := lesson("7X Maths", "L-7XMA-2", "2026-09-08T11:00:00", "2026-09-08T12:00:00")
	h.want(h.do("POST", base, noTx), 201, "")
	if r := h.do("POST", base, lesson("x", "y", "2026-09-08T11:00:00", "2026-09-08T10:00:00")); r.status != 400 {
		t.Errorf("end before start = %d", r.status)
	}
	if r := h.do("POST", base, map[string]any{"subject": "no times"}); r.status != 400 {
		t.Errorf("no start = %d", r.status)
	}

	filter := "/v1.0/users/" + ada + "/events?$filter=singleValueExtendedProperties/Any(ep: ep/id eq '" + tagID + "' and ep/value eq 'L-8YSC-1')"
	res = h.do("GET", filter, nil)
	h.want(res, 200, "")
	if v := res.body["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != id {
		t.Errorf("filter by tag = %v", v)
	}
	res = h.do("GET", base+"/"+id+"?$expand=singleValueExtendedProperties($filter=id eq '"+tagID+"')", nil)
	if p := res.body["singleValueExtendedProperties"].([]any); len(p) != 1 || p[0].(map[string]any)["value"] != "L-8YSC-1" {
		t.Errorf("expanded properties = %v", res.body["singleValueExtendedProperties"])
	}

	h.want(h.do("PATCH", base+"/"+id, map[string]any{"subject": "8Y Physics"}), 200, "")
	h.want(h.do("PATCH", base+"/"+id, map[string]any{"transactionId": "tx-2"}), 400, CodeErrorInvalidRequest)

	view := "/v1.0/users/" + ada + "/calendarView?startDateTime=2026-09-08T00:00:00Z&endDateTime=2026-09-09T00:00:00Z"
	res = h.do("GET", view, nil)
	h.want(res, 200, "")
	v := res.body["value"].([]any)
	if len(v) != 2 || v[0].(map[string]any)["subject"] != "8Y Physics" {
		t.Errorf("calendarView = %v", v)
	}
	h.want(h.do("GET", "/v1.0/users/"+ada+"/calendarView", nil), 400, "ErrorInvalidParameter")
	// Offsets are honoured: 10:30+01:00 is 09:30Z, inside the first lesson only.
	res = h.do("GET", "/v1.0/users/"+ada+"/calendarView?startDateTime=2026-09-08T10:30:00%2B01:00&endDateTime=2026-09-08T10:45:00%2B01:00", nil)
	if n := len(res.body["value"].([]any)); n != 1 {
		t.Errorf("offset calendarView = %d events, want 1", n)
	}

	h.want(h.do("DELETE", base+"/"+id, nil), 204, "")
	h.want(h.do("GET", base+"/"+id, nil), 404, CodeErrorItemNotFound)
	// Sam has no licence, so no mailbox.
	h.want(h.do("GET", "/v1.0/users/"+sam+"/events", nil), 404, "MailboxNotEnabledForRESTAPI")
}

func TestOutlookConcurrency(t *testing.T) {
	h := newHarness(t, Options{Latency: Latency{Read: time.Second}})
	done := make(chan int, 5)
	for range 4 {
		go func() { done <- h.do("GET", "/v1.0/users/"+ada+"/events", nil).status }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.clk.Waiters() < 4 {
		if time.Now().After(deadline) {
			t.Fatal("requests never reached the latency wait")
		}
		time.Sleep(time.Millisecond)
	}
	res := h.do("GET", "/v1.0/users/"+ada+"/events", nil)
	h.want(res, 429, CodeApplicationThrottled)
	if res.errMessage() != "Application is over its MailboxConcurrency limit." {
		t.Errorf("message = %q", res.errMessage())
	}
	h.clk.Advance(time.Second)
	for range 4 {
		if st := <-done; st != 200 {
			t.Errorf("in-flight request = %d", st)
		}
	}
	// The slots are free again: a fifth request now waits instead of failing.
	go func() { done <- h.do("GET", "/v1.0/users/"+ada+"/events", nil).status }()
	for h.clk.Waiters() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("request never reached the latency wait")
		}
		time.Sleep(time.Millisecond)
	}
	h.clk.Advance(time.Second)
	if st := <-done; st != 200 {
		t.Errorf("request after the burst = %d", st)
	}
}
