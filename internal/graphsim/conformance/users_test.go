package conformance_test

import (
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
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

func TestSmoke(t *testing.T) {
	e := newEnv(t, graphsimOptions())
	c := e.client(eduTenant)
	ctx := ctxT(t)
	u, err := c.Users().Post(ctx, newUser("smoke"), nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if u.GetId() == nil {
		t.Fatal("no id")
	}
	_, err = c.Users().ByUserId("nobody").Get(ctx, nil)
	odataErr(t, err, 404, "Request_ResourceNotFound")
}
