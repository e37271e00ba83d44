package graphsim

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestCreateUserValidation(t *testing.T) {
	h := newHarness(t, Options{})
	with := func(k string, v any) map[string]any {
		b := newUserBody("valid")
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	tests := []struct {
		name    string
		body    map[string]any
		status  int
		code    string
		message string
		target  string
	}{
		{"ok", newUserBody("valid1"), 201, "", "", ""},
		{"missing accountEnabled", with("accountEnabled", nil), 400, CodeRequestBadRequest, "Property accountEnabled value is required but is empty or missing.", ""},
		{"missing displayName", with("displayName", nil), 400, CodeRequestBadRequest, "Property displayName value is required but is empty or missing.", ""},
		{"missing mailNickname", with("mailNickname", nil), 400, CodeRequestBadRequest, "Property mailNickname value is required but is empty or missing.", ""},
		{"missing passwordProfile", with("passwordProfile", nil), 400, CodeRequestBadRequest, "Property passwordProfile value is required but is empty or missing.", ""},
		{"missing userPrincipalName", with("userPrincipalName", nil), 400, CodeRequestBadRequest, "Property userPrincipalName value is required but is empty or missing.", ""},
		{"duplicate UPN", with("userPrincipalName", "Ada.Teacher@contoso.school"), 400, CodeRequestBadRequest, "Another object with the same value for property userPrincipalName already exists.", "userPrincipalName"},
		{"UPN clashes with a proxy address", with("userPrincipalName", "ateacher@contoso.school"), 400, CodeRequestBadRequest, "Another object with the same value for property proxyAddresses already exists.", "proxyAddresses"},
		{"UPN clashes with a group address", with("userPrincipalName", "7xmaths@contosoacademy.onmicrosoft.com"), 400, CodeRequestBadRequest, "Another object with the same value for property proxyAddresses already exists.", "proxyAddresses"},
		{"mail clashes", with("mail", "ada.teacher@contoso.school"), 400, CodeRequestBadRequest, "Another object with the same value for property proxyAddresses already exists.", "proxyAddresses"},
		{"UPN without @", with("userPrincipalName", "valid#contoso.school"), 400, CodeRequestBadRequest, "One or more properties contains invalid values.", ""},
		{"UPN accented", with("userPrincipalName", "zoë@contoso.school"), 400, CodeRequestBadRequest, "One or more properties contains invalid values.", ""},
		{"UPN space", with("userPrincipalName", "a b@contoso.school"), 400, CodeRequestBadRequest, "One or more properties contains invalid values.", ""},
		{"UPN allowed symbols", with("userPrincipalName", "o'neil_j-k!#^~@contoso.school"), 201, "", "", ""},
		{"unverified domain", with("userPrincipalName", "valid@pending.example"), 400, CodeRequestBadRequest, "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.", "userPrincipalName"},
		{"unknown domain", with("userPrincipalName", "valid@elsewhere.example"), 400, CodeRequestBadRequest, "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.", "userPrincipalName"},
		{"mailNickname 65 chars", with("mailNickname", strings.Repeat("n", 65)), 400, CodeRequestBadRequest, "Invalid value specified for property 'mailNickname' of resource 'User'.", ""},
		{"mailNickname with space", with("mailNickname", "a b"), 400, CodeRequestBadRequest, "Invalid value specified for property 'mailNickname' of resource 'User'.", "mailNickname"},
		{"employeeId 17 chars", with("employeeId", strings.Repeat("9", 17)), 400, CodeRequestBadRequest, "Invalid value specified for property 'employeeId' of resource 'User'.", ""},
		{"displayName 257 chars", with("displayName", strings.Repeat("d", 257)), 400, CodeRequestBadRequest, "Invalid value specified for property 'displayName' of resource 'User'.", ""},
		{"weak password", with("passwordProfile", map[string]any{"password": "password"}), 400, CodeRequestBadRequest, "The specified password does not comply with password complexity requirements. Please provide a different password.", ""},
		{"bad usageLocation", with("usageLocation", "gbr"), 400, CodeRequestBadRequest, "Invalid value specified for property 'usageLocation' of resource 'User'.", "usageLocation"},
		{"read-only id", with("id", "x"), 400, CodeRequestBadRequest, "Property 'id' is read-only and cannot be set.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			res := h.do("POST", "/v1.0/users", tt.body)
			h.want(res, tt.status, tt.code)
			if tt.message != "" && res.errMessage() != tt.message {
				t.Errorf("message = %q, want %q", res.errMessage(), tt.message)
			}
			if tt.target != "" {
				e := res.body["error"].(map[string]any)
				d, _ := e["details"].([]any)
				if len(d) == 0 || d[0].(map[string]any)["target"] != tt.target {
					t.Errorf("details = %v, want target %s", e["details"], tt.target)
				}
			}
			if tt.status == 201 && !guidRE.MatchString(str(res.body["id"])) {
				t.Errorf("id = %v, want a GUID", res.body["id"])
			}
		})
	}
}

func TestUserReadsAndQueries(t *testing.T) {
	h := newHarness(t, Options{})
	for i := range 12 {
		b := newUserBody("pupil" + string(rune('a'+i)))
		b["employeeId"] = "P" + string(rune('a'+i))
		b["accountEnabled"] = i%2 == 0
		h.want(h.do("POST", "/v1.0/users", b), 201, "")
	}
	count := func(res *result) int { return len(res.body["value"].([]any)) }
	tests := []struct {
		name   string
		path   string
		hdr    []string
		status int
		code   string
		n      int
	}{
		{"all", "/v1.0/users", nil, 200, "", 15},
		{"eq", "/v1.0/users?$filter=employeeId eq 'Pc'", nil, 200, "", 1},
		{"eq case-insensitive", "/v1.0/users?$filter=userPrincipalName eq 'PUPILC@contoso.school'", nil, 200, "", 1},
		{"startsWith", "/v1.0/users?$filter=startsWith(userPrincipalName,'pupil')", nil, 200, "", 12},
		{"in", "/v1.0/users?$filter=employeeId in ('Pa','Pb','nope')", nil, 200, "", 2},
		{"bool and", "/v1.0/users?$filter=accountEnabled eq false and startsWith(displayName,'User')", nil, 200, "", 6},
		{"or", "/v1.0/users?$filter=employeeId eq 'Pa' or employeeId eq 'T0001'", nil, 200, "", 2},
		{"any proxyAddresses", "/v1.0/users?$filter=proxyAddresses/any(x:x eq 'smtp:ateacher@contoso.school')", nil, 200, "", 1},
		{"ne needs advanced", "/v1.0/users?$filter=accountEnabled ne true", nil, 400, CodeUnsupportedQuery, 0},
		{"ne with advanced", "/v1.0/users?$filter=accountEnabled ne true&$count=true", []string{"ConsistencyLevel", "eventual"}, 200, "", 7},
		{"endsWith needs advanced", "/v1.0/users?$filter=endsWith(mail,'contoso.school')", nil, 400, CodeUnsupportedQuery, 0},
		{"not needs advanced", "/v1.0/users?$filter=not(accountEnabled eq true)", nil, 400, CodeUnsupportedQuery, 0},
		{"unfilterable property", "/v1.0/users?$filter=passwordPolicies eq 'x'", nil, 400, CodeUnsupportedQuery, 0},
		{"startsWith on bool", "/v1.0/users?$filter=startsWith(accountEnabled,'t')", nil, 400, CodeUnsupportedQuery, 0},
		{"syntax error", "/v1.0/users?$filter=employeeId eq", nil, 400, CodeBadRequest, 0},
		{"top 999", "/v1.0/users?$top=999", nil, 200, "", 15},
		{"top 1000", "/v1.0/users?$top=1000", nil, 400, CodeUnsupportedQuery, 0},
		{"unknown select", "/v1.0/users?$select=shoeSize", nil, 400, CodeBadRequest, 0},
		{"search needs the header", "/v1.0/users?$search=\"displayName:pupil\"", nil, 400, CodeUnsupportedQuery, 0},
		{"search", "/v1.0/users?$search=\"userPrincipalName:pupila\" OR \"displayName:teacher\"", []string{"ConsistencyLevel", "eventual"}, 200, "", 2},
		{"orderby", "/v1.0/users?$orderby=displayName desc", nil, 200, "", 15},
		{"orderby with filter needs advanced", "/v1.0/users?$orderby=displayName&$filter=accountEnabled eq true", nil, 400, CodeUnsupportedQuery, 0},
		{"orderby unsupported property", "/v1.0/users?$orderby=jobTitle", nil, 400, CodeUnsupportedQuery, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			res := h.do("GET", tt.path, nil, tt.hdr...)
			h.want(res, tt.status, tt.code)
			if tt.status == 200 && count(res) != tt.n {
				t.Errorf("got %d users, want %d", count(res), tt.n)
			}
		})
	}

	t.Run("paging follows nextLink on the request's host", func(t *testing.T) {
		h.t = t
		var ids []string
		path := "/v1.0/users?$top=4&$select=id,employeeId"
		pages := 0
		for path != "" {
			res := h.do("GET", path, nil)
			h.want(res, 200, "")
			pages++
			for _, v := range res.body["value"].([]any) {
				u := v.(map[string]any)
				if _, ok := u["displayName"]; ok {
					t.Fatalf("$select=id,employeeId returned displayName: %v", u)
				}
				ids = append(ids, str(u["id"]))
			}
			next := str(res.body["@odata.nextLink"])
			if next != "" && !strings.HasPrefix(next, "http://sim.test/v1.0/users?") {
				t.Fatalf("nextLink %q not on the request's host", next)
			}
			path = strings.TrimPrefix(next, "http://sim.test")
		}
		if pages != 4 || len(ids) != 15 {
			t.Errorf("got %d pages, %d users; want 4 pages, 15 users", pages, len(ids))
		}
	})
	t.Run("orderby pages in sorted order", func(t *testing.T) {
		h.t = t
		var names []string
		path := "/v1.0/users?$orderby=displayName desc&$top=4"
		for path != "" {
			res := h.do("GET", path, nil)
			h.want(res, 200, "")
			for _, v := range res.body["value"].([]any) {
				names = append(names, strings.ToLower(str(v.(map[string]any)["displayName"])))
			}
			path = strings.TrimPrefix(str(res.body["@odata.nextLink"]), "http://sim.test")
		}
		if len(names) != 15 || !sort.SliceIsSorted(names, func(i, j int) bool { return names[i] > names[j] }) {
			t.Errorf("orderby desc = %v", names)
		}
	})
	t.Run("count", func(t *testing.T) {
		h.t = t
		h.want(h.do("GET", "/v1.0/users/$count", nil), 400, CodeRequestBadRequest)
		res := h.do("GET", "/v1.0/users/$count", nil, "ConsistencyLevel", "eventual")
		h.want(res, 200, "")
		if res.raw != "15" || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
			t.Errorf("$count = %q (%s), want 15 text/plain", res.raw, res.header.Get("Content-Type"))
		}
		res = h.do("GET", "/v1.0/users?$count=true&$top=1", nil)
		if _, ok := res.body["@odata.count"]; ok {
			t.Errorf("$count=true without ConsistencyLevel must be ignored")
		}
		res = h.do("GET", "/v1.0/users?$count=true&$top=1", nil, "ConsistencyLevel", "eventual")
		if res.body["@odata.count"] != float64(15) {
			t.Errorf("@odata.count = %v, want 15", res.body["@odata.count"])
		}
	})
	t.Run("default properties and select", func(t *testing.T) {
		h.t = t
		res := h.do("GET", "/v1.0/users/"+ada, nil)
		if _, ok := res.body["employeeId"]; ok {
			t.Errorf("employeeId returned without $select")
		}
		res = h.do("GET", "/v1.0/users/"+ada+"?$select=employeeId,accountEnabled,passwordProfile", nil)
		if res.body["employeeId"] != "T0001" || res.body["accountEnabled"] != true || res.body["passwordProfile"] != nil {
			t.Errorf("$select result = %v", res.body)
		}
	})
}

func TestUserWrites(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.createUser("writer")
	h.want(h.do("PATCH", "/v1.0/users/"+id, map[string]any{"jobTitle": "Head of Year", "accountEnabled": false}), 204, "")
	res := h.do("GET", "/v1.0/users/"+id+"?$select=jobTitle,accountEnabled", nil)
	if res.body["jobTitle"] != "Head of Year" || res.body["accountEnabled"] != false {
		t.Errorf("after PATCH: %v", res.body)
	}
	h.want(h.do("PATCH", "/v1.0/users/"+id, map[string]any{"userPrincipalName": "sam.student@contoso.school"}), 400, CodeRequestBadRequest)
	h.want(h.do("PATCH", "/v1.0/users/"+id, map[string]any{"employeeId": "12345678901234567"}), 400, CodeRequestBadRequest)
	h.want(h.do("PATCH", "/v1.0/users/00000000-0000-4000-8000-000000000000", map[string]any{"jobTitle": "x"}), 404, CodeResourceNotFound)

	// onPremisesExtensionAttributes merges key by key and filters only as
	// an advanced query.
	ext := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return map[string]any{"onPremisesExtensionAttributes": m}
	}
	h.want(h.do("PATCH", "/v1.0/users/"+id, ext("extensionAttribute1", "MIS-1", "extensionAttribute2", "Y7")), 204, "")
	h.want(h.do("PATCH", "/v1.0/users/"+id, ext("extensionAttribute2", "Y8")), 204, "")
	got := h.do("GET", "/v1.0/users/"+id+"?$select=onPremisesExtensionAttributes", nil).body["onPremisesExtensionAttributes"].(map[string]any)
	if got["extensionAttribute1"] != "MIS-1" || got["extensionAttribute2"] != "Y8" {
		t.Errorf("extension attributes after two PATCHes = %v", got)
	}
	h.want(h.do("PATCH", "/v1.0/users/"+id, ext("extensionAttribute16", "x")), 400, CodeBadRequest)
	h.want(h.do("PATCH", "/v1.0/users/"+id, ext("extensionAttribute3", strings.Repeat("x", 1025))), 400, CodeRequestBadRequest)
	q := "/v1.0/users?$filter=onPremisesExtensionAttributes/extensionAttribute1 eq 'MIS-1'"
	h.want(h.do("GET", q, nil), 400, CodeUnsupportedQuery)
	if res := h.do("GET", q+"&$count=true", nil, "ConsistencyLevel", "eventual"); len(res.body["value"].([]any)) != 1 {
		t.Errorf("advanced filter on extensionAttribute1 = %v", res.raw)
	}

	before := h.do("GET", "/v1.0/users/"+id+"?$select=signInSessionsValidFromDateTime", nil).body["signInSessionsValidFromDateTime"]
	h.clk.Advance(3600e9)
	res = h.do("POST", "/v1.0/users/"+id+"/revokeSignInSessions", nil)
	h.want(res, 200, "")
	if res.body["value"] != true {
		t.Errorf("revokeSignInSessions = %v, want value true", res.body)
	}
	after := h.do("GET", "/v1.0/users/"+id+"?$select=signInSessionsValidFromDateTime", nil).body["signInSessionsValidFromDateTime"]
	if before == after {
		t.Errorf("signInSessionsValidFromDateTime unchanged (%v)", after)
	}

	h.want(h.do("DELETE", "/v1.0/users/"+id, nil), 204, "")
	h.want(h.do("GET", "/v1.0/users/"+id, nil), 404, CodeResourceNotFound)
	h.want(h.do("DELETE", "/v1.0/users/"+id, nil), 404, CodeResourceNotFound)
}

func TestAssignLicense(t *testing.T) {
	h := newHarness(t, Options{})
	add := func(sku string) map[string]any {
		return map[string]any{"addLicenses": []any{map[string]any{"skuId": sku, "disabledPlans": []any{}}}, "removeLicenses": []any{}}
	}
	noLoc := newUserBody("nolocation")
	delete(noLoc, "usageLocation")
	nl := h.do("POST", "/v1.0/users", noLoc)
	h.want(nl, 201, "")
	u := h.createUser("licensed")

	tests := []struct {
		name, user string
		body       map[string]any
		status     int
		message    string
	}{
		{"no usageLocation", str(nl.body["id"]), add(skuStu), 400, "License assignment cannot be done for user with invalid usage location."},
		{"unknown sku", u, add("00000000-0000-0000-0000-000000000000"), 400, "License 00000000-0000-0000-0000-000000000000 does not correspond to a valid company License."},
		{"no seats left", u, add(skuFac), 400, "Subscription with SKU " + skuFac + " does not have any available licenses."},
		{"missing removeLicenses", u, map[string]any{"addLicenses": []any{}}, 400, "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: removeLicenses."},
		{"ok", u, add(skuStu), 200, ""},
		{"again is idempotent", u, add(skuStu), 200, ""},
		{"remove one not held", u, map[string]any{"addLicenses": []any{}, "removeLicenses": []any{skuFac}}, 400, "User does not have a corresponding license."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			res := h.do("POST", "/v1.0/users/"+tt.user+"/assignLicense", tt.body)
			h.want(res, tt.status, "")
			if tt.message != "" && res.errMessage() != tt.message {
				t.Errorf("message = %q, want %q", res.errMessage(), tt.message)
			}
		})
	}
	skus := h.do("GET", "/v1.0/subscribedSkus", nil)
	for _, v := range skus.body["value"].([]any) {
		k := v.(map[string]any)
		want := map[string]float64{skuStu: 1, skuFac: 1}[str(k["skuId"])]
		if k["consumedUnits"] != want {
			t.Errorf("%s consumedUnits = %v, want %v", k["skuPartNumber"], k["consumedUnits"], want)
		}
	}
	// Seats run out.
	for i := range 4 {
		id := h.createUser("seat" + string(rune('a'+i)))
		h.want(h.do("POST", "/v1.0/users/"+id+"/assignLicense", add(skuStu)), 200, "")
	}
	last := h.createUser("seatless")
	h.want(h.do("POST", "/v1.0/users/"+last+"/assignLicense", add(skuStu)), 400, CodeRequestBadRequest)
	// Deleting a user frees the seat.
	h.want(h.do("DELETE", "/v1.0/users/"+u, nil), 204, "")
	h.want(h.do("POST", "/v1.0/users/"+last+"/assignLicense", add(skuStu)), 200, "")
}

func TestEventualConsistency(t *testing.T) {
	h := newHarness(t, Options{ConsistencyDelay: 2e9, TimeScale: 2})
	u := h.createUser("fresh")
	// Invisible to reads and to reference adds for 2 s / scale 2 = 1 s.
	h.want(h.do("GET", "/v1.0/users/"+u, nil), 404, CodeResourceNotFound)
	h.want(h.do("PATCH", "/v1.0/users/"+u, map[string]any{"jobTitle": "x"}), 404, CodeResourceNotFound)
	res := h.do("POST", "/v1.0/groups/"+allStaff+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + u})
	h.want(res, 400, CodeRequestBadRequest)
	if res.errMessage() != "Not a valid reference update." {
		t.Errorf("message = %q", res.errMessage())
	}
	if n := len(h.do("GET", "/v1.0/users?$filter=userPrincipalName eq 'fresh@contoso.school'", nil).body["value"].([]any)); n != 0 {
		t.Errorf("new user listed before replication")
	}
	// Uniqueness is checked against every object, visible or not.
	h.want(h.do("POST", "/v1.0/users", newUserBody("fresh")), 400, CodeRequestBadRequest)
	h.clk.Advance(999e6)
	h.want(h.do("GET", "/v1.0/users/"+u, nil), 404, CodeResourceNotFound)
	h.clk.Advance(1e6)
	h.want(h.do("GET", "/v1.0/users/"+u, nil), 200, "")
	// An update replicates too: reads show the old value for a while, the
	// write itself is acknowledged at once.
	h.want(h.do("PATCH", "/v1.0/users/"+u, map[string]any{"jobTitle": "Teacher"}), 204, "")
	if got := h.do("GET", "/v1.0/users/"+u+"?$select=jobTitle", nil).body["jobTitle"]; got != nil {
		t.Errorf("jobTitle right after PATCH = %v, want the old (null) value", got)
	}
	if n := len(h.do("GET", "/v1.0/users?$filter=jobTitle eq 'Teacher'", nil).body["value"].([]any)); n != 0 {
		t.Errorf("filter saw the update before replication")
	}
	h.clk.Advance(time.Second)
	if got := h.do("GET", "/v1.0/users/"+u+"?$select=jobTitle", nil).body["jobTitle"]; got != "Teacher" {
		t.Errorf("jobTitle after replication = %v", got)
	}
	h.want(h.do("POST", "/v1.0/groups/"+allStaff+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + u}), 204, "")
}

func TestUsersDelta(t *testing.T) {
	h := newHarness(t, Options{})
	for i := range 5 {
		h.createUser("delta" + string(rune('a'+i)))
	}
	// Initial round: every live user, over pages, then a deltaLink.
	var seen int
	path := "/v1.0/users/delta?$select=displayName,employeeId"
	var deltaLink string
	for path != "" {
		res := h.do("GET", path, nil, "Prefer", "odata.maxpagesize=3")
		h.want(res, 200, "")
		seen += len(res.body["value"].([]any))
		path = strings.TrimPrefix(str(res.body["@odata.nextLink"]), "http://sim.test")
		deltaLink = str(res.body["@odata.deltaLink"])
	}
	if seen != 8 || !strings.HasPrefix(deltaLink, "http://sim.test/v1.0/users/delta?") {
		t.Fatalf("initial delta saw %d users, deltaLink %q; want 8 and a deltaLink", seen, deltaLink)
	}
	// Nothing changed: empty.
	res := h.do("GET", strings.TrimPrefix(deltaLink, "http://sim.test"), nil)
	if n := len(res.body["value"].([]any)); n != 0 {
		t.Errorf("unchanged delta returned %d items", n)
	}
	// One update, one delete.
	h.want(h.do("PATCH", "/v1.0/users/"+sam, map[string]any{"employeeId": "S0002"}), 204, "")
	h.want(h.do("DELETE", "/v1.0/users/"+leaver, nil), 204, "")
	res = h.do("GET", strings.TrimPrefix(deltaLink, "http://sim.test"), nil)
	vals := res.body["value"].([]any)
	if len(vals) != 2 {
		t.Fatalf("delta after changes = %v, want 2 items", vals)
	}
	byID := map[string]map[string]any{}
	for _, v := range vals {
		m := v.(map[string]any)
		byID[str(m["id"])] = m
	}
	if byID[sam]["employeeId"] != "S0002" {
		t.Errorf("changed user = %v", byID[sam])
	}
	if rm, _ := byID[leaver]["@removed"].(map[string]any); rm["reason"] != "changed" {
		t.Errorf("deleted user = %v, want @removed reason changed", byID[leaver])
	}
	// $deltatoken=latest: no items, just a link.
	res = h.do("GET", "/v1.0/users/delta?$deltatoken=latest", nil)
	if len(res.body["value"].([]any)) != 0 || res.body["@odata.deltaLink"] == nil {
		t.Errorf("latest = %v", res.body)
	}
	h.want(h.do("GET", "/v1.0/users/delta?$top=5", nil), 400, CodeUnsupportedQuery)
	// Tokens expire after 7 days: 410 and a Location to resync from.
	h.clk.Advance(7*24*time.Hour + time.Second)
	res = h.do("GET", strings.TrimPrefix(deltaLink, "http://sim.test"), nil)
	h.want(res, 410, CodeSyncStateNotFound)
	if res.header.Get("Location") != "http://sim.test/v1.0/users/delta" {
		t.Errorf("Location = %q", res.header.Get("Location"))
	}
	h.want(h.do("GET", "/v1.0/users/delta?$deltatoken=!!", nil), 400, CodeRequestBadRequest)
}
