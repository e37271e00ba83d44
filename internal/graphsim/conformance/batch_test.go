package conformance_test

import (
	"strconv"
	"testing"

	abs "github.com/microsoft/kiota-abstractions-go"
	graphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/rostersync/rostersync/internal/graphsim"
)

func TestBatchThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	adapter := c.GetAdapter()

	batch := graphcore.NewBatchRequest(adapter)
	step := func(ri *abs.RequestInformation, err error) graphcore.BatchItem {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		item, err := batch.AddBatchRequestStep(*ri)
		if err != nil {
			t.Fatal(err)
		}
		return item
	}
	create := step(c.Users().ToPostRequestInformation(ctx, newUser("batch.one"), nil))
	dup := step(c.Groups().ByGroupId(allStaff).Members().Ref().ToPostRequestInformation(ctx, refTo(ada), nil))
	dependent := step(c.Users().ByUserId(sam).RevokeSignInSessions().ToPostRequestInformation(ctx, nil))
	dependent.DependsOnItem(dup)
	missing := step(c.Users().ByUserId("00000000-0000-4000-8000-00000000beef").ToGetRequestInformation(ctx, nil))
	// Per-item headers travel too: an advanced query needs ConsistencyLevel.
	// ($count itself cannot go in an SDK batch: msgraph-sdk-go-core fails
	// with "interface was not a map" on a non-object item body.)
	h := abs.NewRequestHeaders()
	h.Add("ConsistencyLevel", "eventual")
	count := step(c.Users().ToGetRequestInformation(ctx, &users.UsersRequestBuilderGetRequestConfiguration{Headers: h,
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: ptr("endsWith(userPrincipalName,'@contoso.school')"), Count: ptr(true)}}))
	afterCreate := step(c.Users().ByUserId("batch.one@contoso.school").ToGetRequestInformation(ctx, nil))
	afterCreate.DependsOnItem(create)

	resp, err := batch.Send(ctx, adapter)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	codes := resp.GetStatusCodes()
	want := map[string]int32{*create.GetId(): 201, *dup.GetId(): 400, *dependent.GetId(): 424, *missing.GetId(): 404, *count.GetId(): 200, *afterCreate.GetId(): 200}
	for id, w := range want {
		if codes[id] != w {
			t.Errorf("item %s status = %d, want %d", id, codes[id], w)
		}
	}
	if f := resp.GetFailedResponses(); len(f) != 3 {
		t.Errorf("failed responses = %v, want 3", f)
	}
	u, err := graphcore.GetBatchResponseById[models.Userable](resp, *create.GetId(), models.CreateUserFromDiscriminatorValue)
	if err != nil || *u.GetUserPrincipalName() != "batch.one@contoso.school" {
		t.Errorf("GetBatchResponseById = %v, %v", u, err)
	}
	if _, err := graphcore.GetBatchResponseById[models.Userable](resp, *missing.GetId(), models.CreateUserFromDiscriminatorValue); err == nil {
		t.Errorf("GetBatchResponseById on a 404 item returned no error")
	}
	item := resp.GetResponseById(*create.GetId())
	if item.GetHeaders()["x-ms-resource-unit"] != "1" {
		t.Errorf("item headers = %v", item.GetHeaders())
	}
	// (The core batch parser turns numbers in item bodies into nil, so
	// only the key's presence can be checked.)
	if _, ok := resp.GetResponseById(*count.GetId()).GetBody()["@odata.count"]; !ok {
		t.Errorf("advanced query item body has no @odata.count")
	}
}

func TestBatchCollectionThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	coll := graphcore.NewBatchRequestCollection(c.GetAdapter())
	var ids []string
	for i := range 45 {
		ri, err := c.Users().ToPostRequestInformation(ctx, newUser("coll"+strconv.Itoa(i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		item, err := coll.AddBatchRequestStep(*ri)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *item.GetId())
	}
	resp, err := coll.Send(ctx, c.GetAdapter())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	codes := resp.GetStatusCodes()
	for _, id := range ids {
		if codes[id] != 201 {
			t.Errorf("item %s = %d, want 201", id, codes[id])
		}
	}
	st, _ := e.sim.Stats(eduTenant)
	if st.Batches != 3 || st.Requests["POST users"] != 45 {
		t.Errorf("stats = %+v, want 3 batches of 45 creates", st)
	}
}

// TestBatchItemThrottlingThroughSDK shows each item judged on its own: the
// SDK does not retry 429 items, so the caller must (graph.md §1.4).
func TestBatchItemThrottlingThroughSDK(t *testing.T) {
	l := graphsim.DefaultLimits()
	l.AppTenantWrites = 10
	e := newEnv(t, graphsim.Options{Limits: &l})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	batch := graphcore.NewBatchRequest(c.GetAdapter())
	for i := range 15 {
		ri, _ := c.Users().ToPostRequestInformation(ctx, newUser("thr"+strconv.Itoa(i)), nil)
		if _, err := batch.AddBatchRequestStep(*ri); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := batch.Send(ctx, c.GetAdapter())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	var ok, throttled int
	for _, it := range resp.GetResponses() {
		switch *it.GetStatus() {
		case 201:
			ok++
		case 429:
			throttled++
			if it.GetHeaders()["Retry-After"] == "" {
				t.Errorf("throttled item without Retry-After: %v", it.GetHeaders())
			}
		}
	}
	if ok != 10 || throttled != 5 {
		t.Errorf("%d created, %d throttled; want 10 and 5", ok, throttled)
	}
}
