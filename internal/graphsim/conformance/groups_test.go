package conformance_test

import (
	"slices"
	"testing"
	"time"

	graphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/rostersync/rostersync/internal/graphsim"
)

func refURLs(ids ...string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "https://graph.microsoft.com/v1.0/directoryObjects/" + id
	}
	return out
}

func newGroup(nick string, unified bool) models.Groupable {
	g := models.NewGroup()
	g.SetDisplayName(ptr(nick))
	g.SetMailNickname(ptr(nick))
	g.SetMailEnabled(ptr(unified))
	g.SetSecurityEnabled(ptr(!unified))
	if unified {
		g.SetGroupTypes([]string{"Unified"})
	} else {
		g.SetGroupTypes([]string{})
	}
	return g
}

func refTo(id string) models.ReferenceCreateable {
	r := models.NewReferenceCreate()
	r.SetOdataId(ptr("https://graph.microsoft.com/v1.0/directoryObjects/" + id))
	return r
}

func TestGroupsThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	var us []string
	for i := range 23 {
		u, err := c.Users().Post(ctx, newUser("g"+string(rune('a'+i))), nil)
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, *u.GetId())
	}

	// Create a class group with an owner and 19 members (20 relationships).
	cls := newGroup("8ZMaths", true)
	// msgraph-sdk-go's v1.0 group model has no resourceBehaviorOptions, so
	// it travels in AdditionalData.
	cls.SetAdditionalData(map[string]any{
		"owners@odata.bind":       refURLs(ada),
		"members@odata.bind":      refURLs(us[:19]...),
		"resourceBehaviorOptions": []string{"WelcomeEmailDisabled", "SubscribeNewGroupMembers"},
	})
	g, err := c.Groups().Post(ctx, cls, nil)
	if err != nil {
		t.Fatalf("create class group: %v", err)
	}
	gid := *g.GetId()
	// The seed tenant's email address policy for groups puts the address in
	// groups.contoso.school: read mail back, never derive it.
	if opts, _ := g.GetAdditionalData()["resourceBehaviorOptions"].([]any); *g.GetMail() != "8ZMaths@groups.contoso.school" || len(opts) != 2 {
		t.Errorf("group = mail %v options %v", *g.GetMail(), g.GetAdditionalData()["resourceBehaviorOptions"])
	}
	over := newGroup("8ZOver", true)
	over.SetAdditionalData(map[string]any{"owners@odata.bind": refURLs(ada), "members@odata.bind": refURLs(us[:20]...)})
	_, err = c.Groups().Post(ctx, over, nil)
	odataErr(t, err, 400, "Request_BadRequest")

	// PATCH members@odata.bind: one member already in fails the whole PATCH.
	patch := models.NewGroup()
	patch.SetAdditionalData(map[string]any{"members@odata.bind": refURLs(us[19], us[20], us[0])})
	_, err = c.Groups().ByGroupId(gid).Patch(ctx, patch, nil)
	oe := odataErr(t, err, 400, "Request_BadRequest")
	if want := "One or more added object references already exist for the following modified properties: 'members'."; errMessage(oe) != want {
		t.Errorf("message = %q, want %q", errMessage(oe), want)
	}
	patch.SetAdditionalData(map[string]any{"members@odata.bind": refURLs(us[19], us[20])})
	if _, err := c.Groups().ByGroupId(gid).Patch(ctx, patch, nil); err != nil {
		t.Fatalf("PATCH members: %v", err)
	}

	// members/$ref add and remove.
	if err := c.Groups().ByGroupId(gid).Members().Ref().Post(ctx, refTo(us[21]), nil); err != nil {
		t.Fatalf("members/$ref: %v", err)
	}
	err = c.Groups().ByGroupId(gid).Members().Ref().Post(ctx, refTo(us[21]), nil)
	odataErr(t, err, 400, "Request_BadRequest")
	err = c.Groups().ByGroupId(gid).Members().Ref().Post(ctx, refTo("00000000-0000-4000-8000-00000000beef"), nil)
	odataErr(t, err, 404, "Request_ResourceNotFound")
	if err := c.Groups().ByGroupId(gid).Members().ByDirectoryObjectId(us[0]).Ref().Delete(ctx, nil); err != nil {
		t.Fatalf("remove member: %v", err)
	}
	err = c.Groups().ByGroupId(gid).Members().ByDirectoryObjectId(us[0]).Ref().Delete(ctx, nil)
	odataErr(t, err, 404, "Request_ResourceNotFound")
	if err := c.Groups().ByGroupId(gid).Owners().Ref().Post(ctx, refTo(us[22]), nil); err != nil {
		t.Fatalf("owners/$ref: %v", err)
	}
	if err := c.Groups().ByGroupId(gid).Owners().ByDirectoryObjectId(us[22]).Ref().Delete(ctx, nil); err != nil {
		t.Fatalf("remove owner: %v", err)
	}

	members, err := c.Groups().ByGroupId(gid).Members().Get(ctx, &groups.ItemMembersRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.ItemMembersRequestBuilderGetQueryParameters{Top: ptr(int32(5))},
	})
	if err != nil {
		t.Fatal(err)
	}
	it, err := graphcore.NewPageIterator[models.DirectoryObjectable](members, c.GetAdapter(), models.CreateDirectoryObjectCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = it.Iterate(ctx, func(o models.DirectoryObjectable) bool {
		if _, ok := o.(models.Userable); !ok {
			t.Errorf("member %T is not a user", o)
		}
		n++
		return true
	})
	if err != nil || n != 21 {
		t.Errorf("members = %d (%v), want 21", n, err)
	}
	owners, err := c.Groups().ByGroupId(gid).Owners().Get(ctx, nil)
	if err != nil || len(owners.GetValue()) != 1 {
		t.Errorf("owners = %v, %v", owners, err)
	}

	// Security groups nest; Microsoft 365 groups take users only.
	sec, err := c.Groups().Post(ctx, newGroup("AllYear8", false), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Groups().ByGroupId(*sec.GetId()).Members().Ref().Post(ctx, refTo(allStaff), nil); err != nil {
		t.Errorf("nest security group: %v", err)
	}
	err = c.Groups().ByGroupId(gid).Members().Ref().Post(ctx, refTo(allStaff), nil)
	odataErr(t, err, 400, "Request_BadRequest")

	// Delta with members@delta.
	d, err := c.Groups().Delta().GetAsDeltaGetResponse(ctx, &groups.DeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.DeltaRequestBuilderGetQueryParameters{Select: []string{"displayName", "members"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var deltaLink string
	for {
		for _, gr := range d.GetValue() {
			if *gr.GetId() == gid {
				md, _ := gr.GetAdditionalData()["members@delta"].([]any)
				if len(md) != 21 {
					t.Errorf("initial members@delta has %d entries, want 21", len(md))
				}
			}
		}
		if d.GetOdataNextLink() == nil {
			deltaLink = *d.GetOdataDeltaLink()
			break
		}
		d, err = groups.NewDeltaRequestBuilder(*d.GetOdataNextLink(), c.GetAdapter()).GetAsDeltaGetResponse(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Groups().ByGroupId(gid).Members().ByDirectoryObjectId(us[1]).Ref().Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Groups().ByGroupId(*sec.GetId()).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	d, err = groups.NewDeltaRequestBuilder(deltaLink, c.GetAdapter()).GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sawRemoval, sawDeleted bool
	for _, gr := range d.GetValue() {
		if *gr.GetId() == gid {
			md, _ := gr.GetAdditionalData()["members@delta"].([]any)
			for _, m := range md {
				mm, _ := m.(map[string]any)
				if mm["id"] != nil && *(mm["id"].(*string)) == us[1] && mm["@removed"] != nil {
					sawRemoval = true
				}
			}
		}
		if *gr.GetId() == *sec.GetId() && gr.GetAdditionalData()["@removed"] != nil {
			sawDeleted = true
		}
	}
	if !sawRemoval || !sawDeleted {
		t.Errorf("delta after changes: member removal seen %v, deleted group seen %v (%d groups)", sawRemoval, sawDeleted, len(d.GetValue()))
	}
}

// firstDetail is the code and target of a Graph error's first detail.
func firstDetail(oe *odataerrors.ODataError) (code, target string) {
	d := oe.GetErrorEscaped().GetDetails()
	if len(d) == 0 {
		return "", ""
	}
	if d[0].GetCode() != nil {
		code = *d[0].GetCode()
	}
	if d[0].GetTarget() != nil {
		target = *d[0].GetTarget()
	}
	return code, target
}

// The group rules rostersync's groups sync leans on, as msgraph-sdk-go
// sees them.
func TestGroupRulesThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	withData := func(g models.Groupable, kv ...any) models.Groupable {
		d := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i].(string)] = kv[i+1]
		}
		g.SetAdditionalData(d)
		return g
	}
	hidden := newGroup("9XHist", true)
	hidden.SetVisibility(ptr("HiddenMembership"))
	created, err := c.Groups().Post(ctx, hidden, nil)
	if err != nil {
		t.Fatalf("create HiddenMembership Microsoft 365 group: %v", err)
	}
	if *created.GetVisibility() != "HiddenMembership" || *created.GetMail() != "9XHist@groups.contoso.school" {
		t.Errorf("created = visibility %v mail %v", *created.GetVisibility(), *created.GetMail())
	}
	hiddenSec := newGroup("9XSec", false)
	hiddenSec.SetVisibility(ptr("HiddenMembership"))

	creates := []struct {
		name    string
		group   models.Groupable
		message string
		code    string
		target  string
	}{
		{"duplicate Microsoft 365 nickname", newGroup("7XMaths", true),
			"Another object with the same value for property mailNickname already exists.", "ObjectConflict", "mailNickname"},
		{"behaviour options on a security group", withData(newGroup("9XSecOpts", false), "resourceBehaviorOptions", []string{"WelcomeEmailDisabled"}),
			"Invalid value specified for property 'resourceBehaviorOptions' of resource 'Group'.", "InvalidValue", "resourceBehaviorOptions"},
		{"HiddenMembership security group", hiddenSec,
			"Invalid value specified for property 'visibility' of resource 'Group'.", "InvalidValue", "visibility"},
		{"nickname with a space", newGroup("9X Geo", true),
			"Invalid value specified for property 'mailNickname' of resource 'Group'.", "InvalidValue", "mailNickname"},
	}
	for _, tt := range creates {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Groups().Post(ctx, tt.group, nil)
			oe := odataErr(t, err, 400, "Request_BadRequest")
			if got := errMessage(oe); got != tt.message {
				t.Errorf("message = %q, want %q", got, tt.message)
			}
			if code, target := firstDetail(oe); code != tt.code || target != tt.target {
				t.Errorf("detail = %s on %q, want %s on %q", code, target, tt.code, tt.target)
			}
		})
	}

	gid := *created.GetId()
	t.Run("Exchange-backed properties are refused app-only", func(t *testing.T) {
		p := models.NewGroup()
		p.SetHideFromOutlookClients(ptr(true))
		_, err := c.Groups().ByGroupId(gid).Patch(ctx, p, nil)
		odataErr(t, err, 403, "ErrorGroupsAccessDenied")
		p = models.NewGroup()
		p.SetAutoSubscribeNewMembers(ptr(true))
		_, err = c.Groups().ByGroupId(gid).Patch(ctx, p, nil)
		odataErr(t, err, 403, "ErrorAccessDenied")
	})
	t.Run("set only at creation", func(t *testing.T) {
		p := withData(models.NewGroup(), "resourceBehaviorOptions", []string{"HideGroupInOutlook"})
		_, err := c.Groups().ByGroupId(gid).Patch(ctx, p, nil)
		odataErr(t, err, 400, "Request_BadRequest")
		p = models.NewGroup()
		p.SetVisibility(ptr("Private"))
		_, err = c.Groups().ByGroupId(gid).Patch(ctx, p, nil)
		oe := odataErr(t, err, 400, "Request_BadRequest")
		if _, target := firstDetail(oe); target != "visibility" {
			t.Errorf("detail target = %q, want visibility", target)
		}
	})
}

// Membership changes replicate: right after a write a read of members can
// be stale, while the write itself already counts (graph.md §6).
func TestMembershipReplicationThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{ConsistencyDelay: 2 * time.Second, TimeScale: 10}) // 200 ms
	c := e.client(eduTenant)
	ctx := ctxT(t)
	memberIDs := func() []string {
		t.Helper()
		res, err := c.Groups().ByGroupId(allStaff).Members().Get(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range res.GetValue() {
			out = append(out, *m.GetId())
		}
		return out
	}
	if err := c.Groups().ByGroupId(allStaff).Members().Ref().Post(ctx, refTo(sam), nil); err != nil {
		t.Fatalf("add member: %v", err)
	}
	if got := memberIDs(); slices.Contains(got, sam) {
		t.Errorf("members right after the add = %v, want the old membership", got)
	}
	err := c.Groups().ByGroupId(allStaff).Members().Ref().Post(ctx, refTo(sam), nil)
	oe := odataErr(t, err, 400, "Request_BadRequest")
	if want := "One or more added object references already exist for the following modified properties: 'members'."; errMessage(oe) != want {
		t.Errorf("second add = %q, want %q", errMessage(oe), want)
	}
	e.clk.Advance(200 * time.Millisecond)
	if got := memberIDs(); !slices.Contains(got, sam) {
		t.Errorf("members after the scaled delay = %v, want sam", got)
	}
}
