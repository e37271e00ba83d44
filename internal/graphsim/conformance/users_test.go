package conformance_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	abs "github.com/microsoft/kiota-abstractions-go"
	graphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/rostersync/rostersync/internal/graphsim"
)

func newUser(alias string) models.Userable {
	u := models.NewUser()
	u.SetAccountEnabled(ptr(true))
	u.SetDisplayName(ptr("User " + alias))
	u.SetMailNickname(ptr(alias))
	u.SetUserPrincipalName(ptr(alias + "@contoso.school"))
	u.SetUsageLocation(ptr("GB"))
	pp := models.NewPasswordProfile()
	pp.SetForceChangePasswordNextSignIn(ptr(true))
	pp.SetPassword(ptr("xWwvJ]6NMw+bWH-d"))
	u.SetPasswordProfile(pp)
	return u
}

func TestUsersThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)

	created, err := c.Users().Post(ctx, newUser("sdk.user"), nil)
	if err != nil {
		t.Fatalf("Users().Post: %v", err)
	}
	id := *created.GetId()
	if e.encodings["gzip"] == 0 {
		t.Errorf("request bodies arrived with encodings %v; the SDK gzips by default and the simulator must accept it", e.encodings)
	}

	got, err := c.Users().ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "employeeId", "accountEnabled", "usageLocation"}},
	})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if *got.GetAccountEnabled() != true || *got.GetUsageLocation() != "GB" || got.GetDisplayName() != nil {
		t.Errorf("$select result: accountEnabled %v usageLocation %v displayName %v", got.GetAccountEnabled(), got.GetUsageLocation(), got.GetDisplayName())
	}
	byUPN, err := c.Users().ByUserId("sdk.user@contoso.school").Get(ctx, nil)
	if err != nil || *byUPN.GetId() != id {
		t.Errorf("get by UPN = %v, %v", byUPN, err)
	}

	upd := models.NewUser()
	upd.SetEmployeeId(ptr("S1234"))
	upd.SetJobTitle(ptr("Student"))
	if _, err := c.Users().ByUserId(id).Patch(ctx, upd, nil); err != nil {
		t.Fatalf("patch: %v", err)
	}
	list, err := c.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: ptr("employeeId eq 'S1234'"), Select: []string{"id", "employeeId"}},
	})
	if err != nil || len(list.GetValue()) != 1 || *list.GetValue()[0].GetId() != id {
		t.Fatalf("filter employeeId: %v, %v", list, err)
	}

	// $count needs ConsistencyLevel: eventual.
	_, err = c.Users().Count().Get(ctx, nil)
	odataErr(t, err, 400, "Request_BadRequest")
	h := abs.NewRequestHeaders()
	h.Add("ConsistencyLevel", "eventual")
	n, err := c.Users().Count().Get(ctx, &users.CountRequestBuilderGetRequestConfiguration{Headers: h})
	if err != nil || *n != 4 {
		t.Errorf("$count = %v, %v; want 4", n, err)
	}
	adv, err := c.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		Headers:         h,
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: ptr("endsWith(mail,'@contoso.school')"), Count: ptr(true)},
	})
	if err != nil || adv.GetOdataCount() == nil || *adv.GetOdataCount() != 1 {
		t.Errorf("advanced query = %v, %v", adv, err)
	}
	_, err = c.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: ptr("endsWith(mail,'@contoso.school')")},
	})
	odataErr(t, err, 400, "Request_UnsupportedQuery")
	_, err = c.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: ptr(int32(1000))},
	})
	odataErr(t, err, 400, "Request_UnsupportedQuery")

	if err := c.Users().ByUserId(id).Delete(ctx, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = c.Users().ByUserId(id).Get(ctx, nil)
	oe := odataErr(t, err, 404, "Request_ResourceNotFound")
	inner := oe.GetErrorEscaped().GetInnerError()
	if inner == nil || inner.GetRequestId() == nil || inner.GetDate() == nil || inner.GetClientRequestId() == nil {
		t.Errorf("innerError = %+v, want request-id, date and client-request-id", inner)
	}
}

func TestUserErrorsThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	tests := []struct {
		name    string
		edit    func(models.Userable)
		message string
		target  string
	}{
		{"duplicate UPN", func(u models.Userable) { u.SetUserPrincipalName(ptr("ada.teacher@contoso.school")) },
			"Another object with the same value for property userPrincipalName already exists.", "userPrincipalName"},
		{"duplicate proxy address", func(u models.Userable) { u.SetUserPrincipalName(ptr("ateacher@contoso.school")) },
			"Another object with the same value for property proxyAddresses already exists.", "proxyAddresses"},
		{"invalid UPN characters", func(u models.Userable) { u.SetUserPrincipalName(ptr("zoë(x)@contoso.school")) },
			"One or more properties contains invalid values.", ""},
		{"unverified domain", func(u models.Userable) { u.SetUserPrincipalName(ptr("x@pending.example")) },
			"The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.", "userPrincipalName"},
		{"mailNickname too long", func(u models.Userable) { u.SetMailNickname(ptr(strings.Repeat("m", 65))) },
			"Invalid value specified for property 'mailNickname' of resource 'User'.", "mailNickname"},
		{"employeeId over 16", func(u models.Userable) { u.SetEmployeeId(ptr("ABCDEFGHIJKLMNOPQ")) },
			"Invalid value specified for property 'employeeId' of resource 'User'.", "employeeId"},
		{"missing accountEnabled", func(u models.Userable) { u.SetAccountEnabled(nil) },
			"Property accountEnabled value is required but is empty or missing.", ""},
		{"missing passwordProfile", func(u models.Userable) { u.SetPasswordProfile(nil) },
			"Property passwordProfile value is required but is empty or missing.", ""},
		{"missing displayName", func(u models.Userable) { u.SetDisplayName(nil) },
			"Property displayName value is required but is empty or missing.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser("err.case")
			tt.edit(u)
			_, err := c.Users().Post(ctx, u, nil)
			oe := odataErr(t, err, 400, "Request_BadRequest")
			if got := errMessage(oe); got != tt.message {
				t.Errorf("message = %q, want %q", got, tt.message)
			}
			if tt.target != "" {
				d := oe.GetErrorEscaped().GetDetails()
				wantCode := "ObjectConflict"
				if tt.name == "unverified domain" || strings.HasPrefix(tt.message, "Invalid value") {
					wantCode = "InvalidValue"
				}
				if len(d) == 0 || *d[0].GetTarget() != tt.target || *d[0].GetCode() != wantCode {
					t.Errorf("details = %v, want %s on %s", d, wantCode, tt.target)
				}
			}
		})
	}
	t.Run("unknown tenant", func(t *testing.T) {
		_, err := e.client("00000000-0000-0000-0000-000000000000").Users().Get(ctx, nil)
		odataErr(t, err, 401, "InvalidAuthenticationToken")
	})
}

func TestPagingThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	for i := range 25 {
		if _, err := c.Users().Post(ctx, newUser("page"+string(rune('a'+i))), nil); err != nil {
			t.Fatal(err)
		}
	}
	first, err := c.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: ptr(int32(7)), Select: []string{"id", "userPrincipalName"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if next := first.GetOdataNextLink(); next == nil || !strings.HasPrefix(*next, e.hs.URL+"/v1.0/users?") {
		t.Fatalf("nextLink = %v, want one on %s", next, e.hs.URL)
	}
	it, err := graphcore.NewPageIterator[models.Userable](first, c.GetAdapter(), models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	if err := it.Iterate(ctx, func(u models.Userable) bool { seen[*u.GetId()] = true; return true }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 28 {
		t.Errorf("page iterator saw %d users, want 28", len(seen))
	}
}

func TestLicencesAndDirectoryThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	assign := func(id, sku string) error {
		b := users.NewItemAssignLicensePostRequestBody()
		l := models.NewAssignedLicense()
		l.SetSkuId(ptrUUID(t, sku))
		l.SetDisabledPlans(nil)
		b.SetAddLicenses([]models.AssignedLicenseable{l})
		// Graph requires both parameters, so send an empty removeLicenses.
		b.SetRemoveLicenses([]uuid.UUID{})
		_, err := c.Users().ByUserId(id).AssignLicense().Post(ctx, b, nil)
		return err
	}
	noLoc := newUser("no.location")
	noLoc.SetUsageLocation(nil)
	nl, err := c.Users().Post(ctx, noLoc, nil)
	if err != nil {
		t.Fatal(err)
	}
	oe := odataErr(t, assign(*nl.GetId(), skuStu), 400, "Request_BadRequest")
	if errMessage(oe) != "License assignment cannot be done for user with invalid usage location." {
		t.Errorf("message = %q", errMessage(oe))
	}
	u, _ := c.Users().Post(ctx, newUser("licensed"), nil)
	oe = odataErr(t, assign(*u.GetId(), skuFac), 400, "Request_BadRequest")
	if !strings.Contains(errMessage(oe), "does not have any available licenses") {
		t.Errorf("no-seat message = %q", errMessage(oe))
	}
	if err := assign(*u.GetId(), skuStu); err != nil {
		t.Fatalf("assignLicense: %v", err)
	}
	rv, err := c.Users().ByUserId(*u.GetId()).RevokeSignInSessions().PostAsRevokeSignInSessionsPostResponse(ctx, nil)
	if err != nil || rv.GetValue() == nil || !*rv.GetValue() {
		t.Errorf("revokeSignInSessions = %v, %v", rv, err)
	}
	skus, err := c.SubscribedSkus().Get(ctx, nil)
	if err != nil || len(skus.GetValue()) != 2 {
		t.Fatalf("subscribedSkus = %v, %v", skus, err)
	}
	for _, k := range skus.GetValue() {
		if k.GetSkuId().String() == skuStu && (*k.GetConsumedUnits() != 1 || *k.GetPrepaidUnits().GetEnabled() != 5) {
			t.Errorf("student sku consumed %d of %d", *k.GetConsumedUnits(), *k.GetPrepaidUnits().GetEnabled())
		}
	}
	doms, err := c.Domains().Get(ctx, nil)
	if err != nil || len(doms.GetValue()) != 4 {
		t.Fatalf("domains = %v, %v", doms, err)
	}
	org, err := c.Organization().Get(ctx, nil)
	if err != nil || len(org.GetValue()) != 1 || *org.GetValue()[0].GetId() != eduTenant || len(org.GetValue()[0].GetVerifiedDomains()) != 3 {
		t.Errorf("organization = %v, %v", org, err)
	}
}

func TestUsersDeltaThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	first, err := c.Users().Delta().GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: []string{"displayName", "employeeId"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	it, err := graphcore.NewPageIterator[models.Userable](first, c.GetAdapter(), users.CreateDeltaGetResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := it.Iterate(ctx, func(models.Userable) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	link := it.GetOdataDeltaLink()
	if n != 3 || link == nil || !strings.HasPrefix(*link, e.hs.URL) {
		t.Fatalf("initial delta: %d users, deltaLink %v", n, link)
	}
	upd := models.NewUser()
	upd.SetEmployeeId(ptr("S0002"))
	if _, err := c.Users().ByUserId(sam).Patch(ctx, upd, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Users().ByUserId(leaver).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Second)
	next, err := users.NewDeltaRequestBuilder(*link, c.GetAdapter()).GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var changed, removed int
	for _, u := range next.GetValue() {
		if rm, ok := u.GetAdditionalData()["@removed"]; ok {
			removed++
			if *u.GetId() != leaver || rm == nil {
				t.Errorf("removed = %v %v", *u.GetId(), rm)
			}
			continue
		}
		changed++
		if *u.GetId() != sam || *u.GetEmployeeId() != "S0002" {
			t.Errorf("changed = %v %v", *u.GetId(), u.GetEmployeeId())
		}
	}
	if changed != 1 || removed != 1 || next.GetOdataDeltaLink() == nil {
		t.Errorf("delta round: %d changed, %d removed, deltaLink %v", changed, removed, next.GetOdataDeltaLink())
	}
}
