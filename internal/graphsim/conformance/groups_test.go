package conformance_test

import (
	"testing"

	graphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

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
	if opts, _ := g.GetAdditionalData()["resourceBehaviorOptions"].([]any); *g.GetMail() != "8ZMaths@contosoacademy.onmicrosoft.com" || len(opts) != 2 {
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
