package conformance_test

import (
	"strings"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/education"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/teams"

	"github.com/rostersync/rostersync/internal/graphsim"
)

func TestEducationThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)

	cls := models.NewEducationClass()
	cls.SetDisplayName(ptr("10A English"))
	cls.SetMailNickname(ptr("10aenglish"))
	cls.SetDescription(ptr("English"))
	cls.SetClassCode(ptr("10AEN"))
	cls.SetExternalId(ptr("CLS-10AEN"))
	cls.SetExternalName(ptr("10A English"))
	cls.SetExternalSource(ptr(models.SIS_EDUCATIONEXTERNALSOURCE))
	got, err := c.Education().Classes().Post(ctx, cls, nil)
	if err != nil {
		t.Fatalf("create class: %v", err)
	}
	id := *got.GetId()
	if *got.GetExternalId() != "CLS-10AEN" || *got.GetExternalSource() != models.SIS_EDUCATIONEXTERNALSOURCE {
		t.Errorf("class = %v %v", got.GetExternalId(), got.GetExternalSource())
	}

	eu := models.NewEducationUser()
	eu.SetAccountEnabled(ptr(true))
	eu.SetDisplayName(ptr("Edu Pupil"))
	eu.SetMailNickname(ptr("edu.pupil"))
	eu.SetUserPrincipalName(ptr("edu.pupil@contoso.school"))
	eu.SetUsageLocation(ptr("GB"))
	eu.SetPrimaryRole(ptr(models.STUDENT_EDUCATIONUSERROLE))
	pp := models.NewPasswordProfile()
	pp.SetPassword(ptr("xWwvJ]6NMw+bWH-d"))
	eu.SetPasswordProfile(pp)
	pupil, err := c.Education().Users().Post(ctx, eu, nil)
	if err != nil {
		t.Fatalf("create education user: %v", err)
	}
	if *pupil.GetPrimaryRole() != models.STUDENT_EDUCATIONUSERROLE {
		t.Errorf("primaryRole = %v", pupil.GetPrimaryRole())
	}
	ref := func(uid string) models.ReferenceCreateable {
		r := models.NewReferenceCreate()
		r.SetOdataId(ptr("https://graph.microsoft.com/v1.0/education/users/" + uid))
		return r
	}
	if err := c.Education().Classes().ByEducationClassId(id).Members().Ref().Post(ctx, ref(*pupil.GetId()), nil); err != nil {
		t.Fatalf("class members/$ref: %v", err)
	}
	if err := c.Education().Classes().ByEducationClassId(id).Teachers().Ref().Post(ctx, ref(ada), nil); err != nil {
		t.Fatalf("class teachers/$ref: %v", err)
	}
	err = c.Education().Classes().ByEducationClassId(id).Members().Ref().Post(ctx, ref(*pupil.GetId()), nil)
	odataErr(t, err, 400, "Request_BadRequest")
	// A directory-user reference is not the documented education/users form.
	userRef := models.NewReferenceCreate()
	userRef.SetOdataId(ptr("https://graph.microsoft.com/v1.0/users/" + sam))
	err = c.Education().Classes().ByEducationClassId(id).Teachers().Ref().Post(ctx, userRef, nil)
	if oe := odataErr(t, err, 400, "BadRequest"); !strings.Contains(errMessage(oe), "education/users/{id}") {
		t.Errorf("users/{id} teacher ref message = %q", errMessage(oe))
	}
	members, err := c.Education().Classes().ByEducationClassId(id).Members().Get(ctx, nil)
	if err != nil || len(members.GetValue()) != 1 {
		t.Errorf("class members = %v, %v", members, err)
	}
	teachers, err := c.Education().Classes().ByEducationClassId(id).Teachers().Get(ctx, nil)
	if err != nil || len(teachers.GetValue()) != 1 || *teachers.GetValue()[0].GetPrimaryRole() != models.TEACHER_EDUCATIONUSERROLE {
		t.Errorf("class teachers = %v, %v", teachers, err)
	}
	if err := c.Education().Classes().ByEducationClassId(id).Members().ByEducationUserId(*pupil.GetId()).Ref().Delete(ctx, nil); err != nil {
		t.Errorf("remove class member: %v", err)
	}
	schools, err := c.Education().Schools().Get(ctx, nil)
	if err != nil || len(schools.GetValue()) != 1 || *schools.GetValue()[0].GetExternalId() != "URN-100001" {
		t.Errorf("schools = %v, %v", schools, err)
	}
	sref := models.NewReferenceCreate()
	sref.SetOdataId(ptr("https://graph.microsoft.com/v1.0/education/classes/" + id))
	if err := c.Education().Schools().ByEducationSchoolId(school1).Classes().Ref().Post(ctx, sref, nil); err != nil {
		t.Errorf("school classes/$ref: %v", err)
	}

	// A business tenant refuses the rostering API.
	biz := e.client(bizTenant)
	_, err = biz.Education().Classes().Get(ctx, nil)
	oe := odataErr(t, err, 400, "Request_UnsupportedQuery")
	if !strings.Contains(errMessage(oe), "Education_ObjectType") {
		t.Errorf("message = %q", errMessage(oe))
	}
	_, err = biz.Education().Classes().Post(ctx, cls, nil)
	odataErr(t, err, 400, "Request_UnsupportedQuery")
	empty, err := biz.Education().Schools().Get(ctx, nil)
	if err != nil || len(empty.GetValue()) != 0 {
		t.Errorf("business schools = %v, %v; want an empty list", empty, err)
	}
}

func TestTeamsThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{TeamReplicationDelay: 15 * time.Minute, TeamProvisioningDelay: 30 * time.Second})
	c := e.client(eduTenant)
	ctx := ctxT(t)

	g := newGroup("11BBiology", true)
	g.SetAdditionalData(map[string]any{"owners@odata.bind": refURLs(ada)})
	grp, err := c.Groups().Post(ctx, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	gid := *grp.GetId()
	// Team-from-group 404s while the group is younger than the replication delay.
	_, err = c.Groups().ByGroupId(gid).Team().Put(ctx, models.NewTeam(), nil)
	odataErr(t, err, 404, "NotFound")
	e.clk.Advance(15 * time.Minute)
	tm, err := c.Groups().ByGroupId(gid).Team().Put(ctx, models.NewTeam(), nil)
	if err != nil {
		t.Fatalf("PUT team: %v", err)
	}
	if *tm.GetId() != gid || *tm.GetIsArchived() {
		t.Errorf("team = %v archived %v", *tm.GetId(), *tm.GetIsArchived())
	}

	// The educationClass template on a group that is not a class is
	// refused (msgraph-sdk-dotnet#532); on a class's group it is accepted.
	classTeam := func(groupID string) models.Teamable {
		ct := models.NewTeam()
		ct.SetAdditionalData(map[string]any{
			"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('educationClass')",
			"group@odata.bind":    "https://graph.microsoft.com/v1.0/groups('" + groupID + "')",
		})
		return ct
	}
	pg := newGroup("11BPlain", true)
	pg.SetAdditionalData(map[string]any{"owners@odata.bind": refURLs(ada)})
	plain, err := c.Groups().Post(ctx, pg, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(15 * time.Minute)
	_, err = c.Teams().Post(ctx, classTeam(*plain.GetId()), nil)
	if oe := odataErr(t, err, 400, "BadRequest"); !strings.Contains(errMessage(oe), "Team with template 'educationClass' can not be provisioned using a group which does not belong to a class.") {
		t.Errorf("plain group message = %q", errMessage(oe))
	}
	ct := classTeam(oldClassGroup(t, e))
	hi := khttp.NewHeadersInspectionOptions()
	hi.InspectResponseHeaders = true
	_, err = c.Teams().Post(ctx, ct, &teams.TeamsRequestBuilderPostRequestConfiguration{Options: []abs.RequestOption{hi}})
	if err != nil {
		t.Fatalf("POST /teams: %v", err)
	}
	loc := hi.GetResponseHeaders().Get("Location")
	if len(loc) != 1 || !strings.HasPrefix(loc[0], "/teams('") {
		t.Fatalf("Location = %v", loc)
	}
	// Poll the teamsAsyncOperation the way a client does: parse the ids.
	parts := strings.Split(strings.NewReplacer("/teams('", "", "')/operations('", "|", "')", "").Replace(loc[0]), "|")
	op, err := c.Teams().ByTeamId(parts[0]).Operations().ByTeamsAsyncOperationId(parts[1]).Get(ctx, nil)
	if err != nil || *op.GetStatus() != models.NOTSTARTED_TEAMSASYNCOPERATIONSTATUS || *op.GetOperationType() != models.CREATETEAM_TEAMSASYNCOPERATIONTYPE {
		t.Fatalf("operation = %v, %v", op, err)
	}
	e.clk.Advance(10 * time.Second)
	op, err = c.Teams().ByTeamId(parts[0]).Operations().ByTeamsAsyncOperationId(parts[1]).Get(ctx, nil)
	if err != nil || *op.GetStatus() != models.INPROGRESS_TEAMSASYNCOPERATIONSTATUS {
		t.Fatalf("operation after 10 s = %v, %v", op, err)
	}
	e.clk.Advance(20 * time.Second)
	op, err = c.Teams().ByTeamId(parts[0]).Operations().ByTeamsAsyncOperationId(parts[1]).Get(ctx, nil)
	if err != nil || *op.GetStatus() != models.SUCCEEDED_TEAMSASYNCOPERATIONSTATUS || *op.GetTargetResourceId() != parts[0] {
		t.Fatalf("operation = %v, %v", op, err)
	}
	team, err := c.Teams().ByTeamId(parts[0]).Get(ctx, nil)
	if err != nil || *team.GetVisibility() != models.HIDDENMEMBERSHIP_TEAMVISIBILITYTYPE || *team.GetSpecialization() != models.EDUCATIONCLASS_TEAMSPECIALIZATION {
		t.Errorf("class team = %v, %v", team, err)
	}
	// The teacher, also a member, is the team's owner.
	roster, err := c.Teams().ByTeamId(parts[0]).Members().Get(ctx, nil)
	if err != nil || len(roster.GetValue()) != 1 {
		t.Fatalf("roster = %v, %v", roster, err)
	}
	if m, ok := roster.GetValue()[0].(models.AadUserConversationMemberable); !ok || *m.GetUserId() != ada || len(m.GetRoles()) != 1 || m.GetRoles()[0] != "owner" {
		t.Errorf("roster member = %#v", roster.GetValue()[0])
	}

	// Archive: 202 + operation, then isArchived.
	if err := c.Teams().ByTeamId(gid).Archive().Post(ctx, teams.NewItemArchivePostRequestBody(), nil); err != nil {
		t.Fatalf("archive: %v", err)
	}
	e.clk.Advance(30 * time.Second)
	team, err = c.Teams().ByTeamId(gid).Get(ctx, nil)
	if err != nil || !*team.GetIsArchived() {
		t.Errorf("archived team = %v, %v", team, err)
	}
	if err := c.Teams().ByTeamId(gid).Unarchive().Post(ctx, nil); err != nil {
		t.Fatalf("unarchive: %v", err)
	}
	e.clk.Advance(30 * time.Second)
	if team, _ = c.Teams().ByTeamId(gid).Get(ctx, nil); *team.GetIsArchived() {
		t.Errorf("team still archived after unarchive")
	}
	ab := teams.NewItemArchivePostRequestBody()
	ab.SetShouldSetSpoSiteReadOnlyForMembers(ptr(true))
	odataErr(t, c.Teams().ByTeamId(gid).Archive().Post(ctx, ab, nil), 400, "BadRequest")
	_, err = c.Teams().ByTeamId("00000000-0000-4000-8000-00000000beef").Get(ctx, nil)
	odataErr(t, err, 404, "NotFound")
}

// TestTeamOperationFailedThroughSDK: an injected failure reaches the SDK as
// a teamsAsyncOperation with status failed and its operationError, and no
// team is made.
func TestTeamOperationFailedThroughSDK(t *testing.T) {
	faults := &graphsim.Faults{TeamOperation: func(f graphsim.FaultOperation) *graphsim.OperationError {
		if f.OperationType == "createTeam" && f.Attempt == 1 {
			return &graphsim.OperationError{Code: "Conflict", Message: "The team could not be provisioned."}
		}
		return nil
	}}
	e := newEnv(t, graphsim.Options{TeamReplicationDelay: 15 * time.Minute, TeamProvisioningDelay: 30 * time.Second, Faults: faults})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	cls := oldClassGroup(t, e)
	ct := models.NewTeam()
	ct.SetAdditionalData(map[string]any{
		"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('educationClass')",
		"group@odata.bind":    "https://graph.microsoft.com/v1.0/groups('" + cls + "')",
	})
	hi := khttp.NewHeadersInspectionOptions()
	hi.InspectResponseHeaders = true
	if _, err := c.Teams().Post(ctx, ct, &teams.TeamsRequestBuilderPostRequestConfiguration{Options: []abs.RequestOption{hi}}); err != nil {
		t.Fatalf("POST /teams: %v", err)
	}
	loc := hi.GetResponseHeaders().Get("Location")
	if len(loc) != 1 {
		t.Fatalf("Location = %v", loc)
	}
	parts := strings.Split(strings.NewReplacer("/teams('", "", "')/operations('", "|", "')", "").Replace(loc[0]), "|")
	e.clk.Advance(30 * time.Second)
	op, err := c.Teams().ByTeamId(parts[0]).Operations().ByTeamsAsyncOperationId(parts[1]).Get(ctx, nil)
	if err != nil || *op.GetStatus() != models.FAILED_TEAMSASYNCOPERATIONSTATUS || op.GetError() == nil ||
		*op.GetError().GetCode() != "Conflict" || *op.GetError().GetMessage() != "The team could not be provisioned." {
		t.Fatalf("operation = %+v, %v", op, err)
	}
	_, err = c.Teams().ByTeamId(cls).Get(ctx, nil)
	odataErr(t, err, 404, "NotFound")
	// The retry succeeds.
	if _, err := c.Teams().Post(ctx, ct, nil); err != nil {
		t.Fatalf("retry POST /teams: %v", err)
	}
	e.clk.Advance(30 * time.Second)
	if _, err := c.Teams().ByTeamId(cls).Get(ctx, nil); err != nil {
		t.Errorf("team after the retry: %v", err)
	}
}

// TestEducationAndTeamsQuotasThroughSDK: the Teams creation rate (10/s per
// app per tenant) and, with the undocumented option on, the directory write
// quota charged by education writes both reach the SDK as 429s with the
// scope and reason headers.
func TestEducationAndTeamsQuotasThroughSDK(t *testing.T) {
	L := graphsim.DefaultLimits()
	L.AppTenantWrites = 2
	L.EducationWritesChargeDirectory = true
	e := newEnv(t, graphsim.Options{Limits: &L})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	newClass := func(nick string) error {
		cls := models.NewEducationClass()
		cls.SetDisplayName(ptr(nick))
		cls.SetMailNickname(ptr(nick))
		_, err := c.Education().Classes().Post(ctx, cls, &education.ClassesRequestBuilderPostRequestConfiguration{Options: []abs.RequestOption{noSDKRetry()}})
		return err
	}
	for _, nick := range []string{"q1", "q2"} {
		if err := newClass(nick); err != nil {
			t.Fatalf("class %s: %v", nick, err)
		}
	}
	oe := odataErr(t, newClass("q3"), 429, "TooManyRequests")
	if h := oe.GetResponseHeaders(); h == nil || len(h.Get("x-ms-throttle-information")) != 1 || h.Get("x-ms-throttle-information")[0] != "WriteLimitExceeded" {
		t.Errorf("education write 429 headers = %v", h)
	}

	ct := func() models.Teamable {
		tm := models.NewTeam()
		tm.SetDisplayName(ptr("Quota Team"))
		owner := models.NewAadUserConversationMember()
		owner.SetRoles([]string{"owner"})
		owner.SetAdditionalData(map[string]any{"user@odata.bind": "https://graph.microsoft.com/v1.0/users('" + ada + "')"})
		tm.SetMembers([]models.ConversationMemberable{owner})
		tm.SetAdditionalData(map[string]any{"template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('standard')"})
		return tm
	}
	cfg := &teams.TeamsRequestBuilderPostRequestConfiguration{Options: []abs.RequestOption{noSDKRetry()}}
	var err error
	n := 0
	for ; n < 20; n++ {
		if _, err = c.Teams().Post(ctx, ct(), cfg); err != nil {
			break
		}
	}
	oe = odataErr(t, err, 429, "TooManyRequests")
	if n != 10 {
		t.Errorf("POST /teams admitted %d in a burst, want 10", n)
	}
	if h := oe.GetResponseHeaders(); h == nil || len(h.Get("x-ms-throttle-scope")) != 1 || !strings.HasPrefix(h.Get("x-ms-throttle-scope")[0], "Tenant_Application/") {
		t.Errorf("teams 429 headers = %v", h)
	}
}

// oldClassGroup creates an education class with ada as teacher (and, as
// the educationClass docs require, member) and ages it past the team
// replication delay.
func oldClassGroup(t *testing.T, e *env) string {
	t.Helper()
	ctx := ctxT(t)
	c := e.client(eduTenant)
	cls := models.NewEducationClass()
	cls.SetDisplayName(ptr("12C Chemistry"))
	cls.SetMailNickname(ptr("12cchem"))
	got, err := c.Education().Classes().Post(ctx, cls, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := *got.GetId()
	ref := models.NewReferenceCreate()
	ref.SetOdataId(ptr("https://graph.microsoft.com/v1.0/education/users/" + ada))
	if err := c.Education().Classes().ByEducationClassId(id).Teachers().Ref().Post(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Education().Classes().ByEducationClassId(id).Members().Ref().Post(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(15 * time.Minute)
	return id
}
