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
