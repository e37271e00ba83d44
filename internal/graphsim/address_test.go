package graphsim

import "testing"

// TestAddressOwnerFollowsChanges: the addresses addressOwner compares are
// read once per change of an object (its seq), not once per create, and a
// change is seen: a renamed account frees its old UPN and holds its new
// one, a deleted account holds none.
func TestAddressOwnerFollowsChanges(t *testing.T) {
	h := newHarness(t, Options{})
	clash := func(upn, prop string) {
		t.Helper()
		b := newUserBody("other")
		b["userPrincipalName"] = upn
		res := h.do("POST", "/v1.0/users", b)
		if prop == "" {
			h.want(res, 201, "")
			h.want(h.do("DELETE", "/v1.0/users/"+str(res.body["id"]), nil), 204, "")
			return
		}
		h.want(res, 400, CodeRequestBadRequest)
		if res.errTarget() != prop {
			t.Errorf("%s: conflict on %q, want %q", upn, res.errTarget(), prop)
		}
	}
	id := h.createUser("first")
	clash("First@contoso.school", "userPrincipalName")
	h.want(h.do("PATCH", "/v1.0/users/"+id, map[string]any{"userPrincipalName": "second@contoso.school"}), 204, "")
	clash("first@contoso.school", "")
	clash("SECOND@contoso.school", "userPrincipalName")
	h.want(h.do("DELETE", "/v1.0/users/"+id, nil), 204, "")
	clash("second@contoso.school", "")
}

// TestAddressOwnerSeesLoadedAndGroupAddresses: the address index holds
// the accounts a loaded state brought (before any request) and a group's
// mail.
func TestAddressOwnerSeesLoadedAndGroupAddresses(t *testing.T) {
	h := newHarness(t, Options{})
	var seeded string
	for _, ts := range seedState(t).Tenants {
		if ts.ID != eduTenant {
			continue
		}
		for _, u := range ts.Users {
			if upn := str(u["userPrincipalName"]); upn != "" {
				seeded = upn
				break
			}
		}
	}
	if seeded == "" {
		t.Fatal("the seed state has no user in the education tenant")
	}
	create := func(upn string) *result {
		t.Helper()
		b := newUserBody("other")
		b["userPrincipalName"] = upn
		return h.do("POST", "/v1.0/users", b)
	}
	res := create(seeded)
	h.want(res, 400, CodeRequestBadRequest)
	if res.errTarget() != "userPrincipalName" {
		t.Errorf("a loaded account's UPN: conflict on %q, want userPrincipalName", res.errTarget())
	}

	gid := h.createGroup("staffroom", true)
	g := h.do("GET", "/v1.0/groups/"+gid, nil)
	h.want(g, 200, "")
	mail := str(g.body["mail"])
	if mail == "" {
		t.Fatalf("the new Microsoft 365 group has no mail: %v", g.body)
	}
	res = create(mail)
	h.want(res, 400, CodeRequestBadRequest)
	if res.errTarget() != "proxyAddresses" {
		t.Errorf("a group's mail: conflict on %q, want proxyAddresses", res.errTarget())
	}
}
