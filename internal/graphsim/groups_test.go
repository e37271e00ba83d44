package graphsim

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func userRefs(ids ...string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "https://graph.microsoft.com/v1.0/directoryObjects/" + id
	}
	return out
}

func TestCreateGroupValidation(t *testing.T) {
	h := newHarness(t, Options{})
	var many []string
	for i := range 21 {
		many = append(many, h.createUser("m"+string(rune('a'+i))))
	}
	base := func(nick string, unified bool) map[string]any {
		b := map[string]any{"displayName": nick, "mailNickname": nick, "mailEnabled": unified, "securityEnabled": !unified, "groupTypes": []string{}}
		if unified {
			b["groupTypes"] = []string{"Unified"}
		}
		return b
	}
	with := func(b map[string]any, kv ...any) map[string]any {
		for i := 0; i+1 < len(kv); i += 2 {
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}
	tests := []struct {
		name    string
		body    map[string]any
		status  int
		message string
		target  string // of the error's first detail, when set
	}{
		{"security group", base("sec1", false), 201, "", ""},
		{"unified with owners and members", with(base("uni1", true), "owners@odata.bind", userRefs(ada), "members@odata.bind", userRefs(many[:19]...),
			"resourceBehaviorOptions", []string{"WelcomeEmailDisabled", "HideGroupInOutlook"}), 201, "", ""},
		{"21 relationships", with(base("uni2", true), "owners@odata.bind", userRefs(ada), "members@odata.bind", userRefs(many[:20]...)), 400,
			"A maximum of 20 relationships, such as owners and members, can be added as part of group creation.", ""},
		{"missing mailNickname", func() map[string]any { b := base("x", false); delete(b, "mailNickname"); return b }(), 400, "Property mailNickname value is required but is empty or missing.", ""},
		{"mailNickname with a dot", base("year.7", false), 400, "Invalid value specified for property 'mailNickname' of resource 'Group'.", "mailNickname"},
		{"mail-enabled security group", with(base("mes", false), "mailEnabled", true), 400,
			"The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or is set to false.", ""},
		{"unknown behaviour option", with(base("uni3", true), "resourceBehaviorOptions", []string{"SkipExchangeInstantOn2"}), 400, "Invalid value specified for property 'resourceBehaviorOptions' of resource 'Group'.", "resourceBehaviorOptions"},
		{"internal-only behaviour option", with(base("uni7", true), "resourceBehaviorOptions", []string{"SkipExchangeInstantOn"}), 400, "", "resourceBehaviorOptions"},
		{"behaviour options on a security group", with(base("sec6", false), "resourceBehaviorOptions", []string{"WelcomeEmailDisabled"}), 400,
			"Invalid value specified for property 'resourceBehaviorOptions' of resource 'Group'.", "resourceBehaviorOptions"},
		{"hidden membership security group", with(base("sec7", false), "visibility", "HiddenMembership"), 400,
			"Invalid value specified for property 'visibility' of resource 'Group'.", "visibility"},
		{"hidden membership unified group", with(base("uni6", true), "visibility", "Hiddenmembership"), 201, "", ""},
		{"unknown visibility", with(base("uni8", true), "visibility", "Secret"), 400, "", "visibility"},
		{"not settable on create", with(base("uni4", true), "hideFromAddressLists", true), 400, "", ""},
		{"duplicate unified nickname", base("7xmaths", true), 400, "Another object with the same value for property mailNickname already exists.", "mailNickname"},
		{"duplicate unified nickname in another case", base("7XMaths", true), 400, "Another object with the same value for property mailNickname already exists.", "mailNickname"},
		{"security group sharing a unified group's nickname", base("7xmaths", false), 201, "", ""},
		{"unknown member", with(base("sec2", false), "members@odata.bind", userRefs("00000000-0000-4000-8000-00000000beef")), 404, "", ""},
		{"nested security group", with(base("sec3", false), "members@odata.bind", userRefs(allStaff)), 201, "", ""},
		{"group inside a unified group", with(base("uni5", true), "members@odata.bind", userRefs(allStaff)), 400, "", ""},
		{"group as owner", with(base("sec4", false), "owners@odata.bind", userRefs(allStaff)), 400, "", ""},
		{"bad bind URL", with(base("sec5", false), "members@odata.bind", []string{""}), 400, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			res := h.do("POST", "/v1.0/groups", tt.body)
			h.want(res, tt.status, "")
			if tt.message != "" && res.errMessage() != tt.message {
				t.Errorf("message = %q, want %q", res.errMessage(), tt.message)
			}
			if tt.target != "" && res.errTarget() != tt.target {
				t.Errorf("details = %v, want target %s", res.body["error"].(map[string]any)["details"], tt.target)
			}
		})
	}
	t.Run("hidden membership kept", func(t *testing.T) {
		h.t = t
		res := h.do("GET", "/v1.0/groups?$filter=mailNickname eq 'uni6'", nil)
		if g := res.body["value"].([]any)[0].(map[string]any); g["visibility"] != "HiddenMembership" {
			t.Errorf("visibility = %v, want HiddenMembership", g["visibility"])
		}
	})
	t.Run("unified group shape", func(t *testing.T) {
		h.t = t
		res := h.do("GET", "/v1.0/groups?$filter=mailNickname eq 'uni1'", nil)
		g := res.body["value"].([]any)[0].(map[string]any)
		// The seed's email address policy puts groups in
		// groups.contoso.school, not the default domain contoso.school;
		// the initial domain address stays as a secondary.
		if g["mail"] != "uni1@groups.contoso.school" || g["visibility"] != "Public" || !guidRE.MatchString(str(g["id"])) {
			t.Errorf("group = %v", g)
		}
		if pa := strSlice(g["proxyAddresses"]); len(pa) != 2 || pa[0] != "SMTP:uni1@groups.contoso.school" || pa[1] != "smtp:uni1@contosoacademy.onmicrosoft.com" {
			t.Errorf("proxyAddresses = %v", pa)
		}
		if opts := g["resourceBehaviorOptions"].([]any); len(opts) != 2 {
			t.Errorf("resourceBehaviorOptions = %v", opts)
		}
		members := h.do("GET", "/v1.0/groups/"+str(g["id"])+"/members?$top=999", nil).body["value"].([]any)
		owners := h.do("GET", "/v1.0/groups/"+str(g["id"])+"/owners", nil).body["value"].([]any)
		if len(members) != 19 || len(owners) != 1 || owners[0].(map[string]any)["@odata.type"] != "#microsoft.graph.user" {
			t.Errorf("members %d owners %v, want 19 and Ada", len(members), owners)
		}
	})
}

func TestGroupMembership(t *testing.T) {
	h := newHarness(t, Options{})
	var us []string
	for i := range 22 {
		us = append(us, h.createUser("gm"+string(rune('a'+i))))
	}
	g := h.createGroup("yr7", false)
	members := func() int {
		return len(h.do("GET", "/v1.0/groups/"+g+"/members?$top=999", nil).body["value"].([]any))
	}
	patch := func(ids ...string) *result {
		return h.do("PATCH", "/v1.0/groups/"+g, map[string]any{"members@odata.bind": userRefs(ids...)})
	}
	h.want(patch(us[:20]...), 204, "")
	if n := members(); n != 20 {
		t.Fatalf("members = %d, want 20", n)
	}
	// One already-present member fails the whole PATCH; nothing is added.
	res := patch(us[20], us[0])
	h.want(res, 400, CodeRequestBadRequest)
	if want := "One or more added object references already exist for the following modified properties: 'members'."; res.errMessage() != want {
		t.Errorf("message = %q, want %q", res.errMessage(), want)
	}
	if n := members(); n != 20 {
		t.Errorf("members after failed PATCH = %d, want 20 (nothing added)", n)
	}
	h.want(patch(append([]string{us[20], us[21]}, us[:19]...)...), 400, CodeRequestBadRequest) // 21 refs
	h.want(patch(us[20], us[20]), 400, CodeRequestBadRequest)                                  // same id twice
	h.want(patch(us[20], us[21]), 204, "")

	ref := func(id string) map[string]any {
		return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + id}
	}
	h.want(h.do("POST", "/v1.0/groups/"+g+"/members/$ref", ref(us[0])), 400, CodeRequestBadRequest)
	h.want(h.do("POST", "/v1.0/groups/"+g+"/members/$ref", ref("00000000-0000-4000-8000-00000000beef")), 404, CodeResourceNotFound)
	h.want(h.do("POST", "/v1.0/groups/"+g+"/members/$ref", ref(ada)), 204, "")
	h.want(h.do("POST", "/v1.0/groups/"+g+"/owners/$ref", ref(ada)), 204, "")
	res = h.do("POST", "/v1.0/groups/"+g+"/owners/$ref", ref(ada))
	if want := "One or more added object references already exist for the following modified properties: 'owners'."; res.errMessage() != want {
		t.Errorf("owners message = %q", res.errMessage())
	}
	h.want(h.do("DELETE", "/v1.0/groups/"+g+"/members/"+ada+"/$ref", nil), 204, "")
	h.want(h.do("DELETE", "/v1.0/groups/"+g+"/members/"+ada+"/$ref", nil), 404, CodeResourceNotFound)
	h.want(h.do("DELETE", "/v1.0/groups/"+g+"/owners/"+ada+"/$ref", nil), 204, "")
	// Removal with $ref leaves the user alone.
	h.want(h.do("GET", "/v1.0/users/"+ada, nil), 200, "")
	if n := members(); n != 22 {
		t.Errorf("members = %d, want 22", n)
	}
	// Deleting a user removes it from its groups.
	h.want(h.do("DELETE", "/v1.0/users/"+us[0], nil), 204, "")
	if n := members(); n != 21 {
		t.Errorf("members after user delete = %d, want 21", n)
	}
	// memberOf sees the group.
	mo := h.do("GET", "/v1.0/users/"+us[1]+"/memberOf", nil).body["value"].([]any)
	if len(mo) != 1 || mo[0].(map[string]any)["id"] != g {
		t.Errorf("memberOf = %v", mo)
	}
	h.want(h.do("PATCH", "/v1.0/groups/"+g, map[string]any{"resourceBehaviorOptions": []string{"WelcomeEmailDisabled"}}), 400, CodeRequestBadRequest)
	h.want(h.do("PATCH", "/v1.0/groups/"+g, map[string]any{"description": "Year 7"}), 204, "")
	h.want(h.do("DELETE", "/v1.0/groups/"+g, nil), 204, "")
	h.want(h.do("GET", "/v1.0/groups/"+g, nil), 404, CodeResourceNotFound)
}

func TestGroupsDelta(t *testing.T) {
	h := newHarness(t, Options{})
	a, b := h.createUser("gda"), h.createUser("gdb")
	g := h.createGroup("gdelta", false, a)
	u := h.createGroup("gdeltaU", true)

	res := h.do("GET", "/v1.0/groups/delta?$select=displayName,members", nil)
	h.want(res, 200, "")
	vals := res.body["value"].([]any)
	if len(vals) != 4 {
		t.Fatalf("initial groups delta = %d groups, want 4", len(vals))
	}
	for _, v := range vals {
		m := v.(map[string]any)
		if m["id"] == g {
			md := m["members@delta"].([]any)
			if len(md) != 1 || md[0].(map[string]any)["id"] != a || md[0].(map[string]any)["@odata.type"] != "#microsoft.graph.user" {
				t.Errorf("initial members@delta = %v", md)
			}
		}
	}
	link := strings.TrimPrefix(str(res.body["@odata.deltaLink"]), "http://sim.test")
	if link == "" {
		t.Fatal("no deltaLink")
	}
	h.want(h.do("POST", "/v1.0/groups/"+g+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/users/" + b}), 204, "")
	h.want(h.do("DELETE", "/v1.0/groups/"+g+"/members/"+a+"/$ref", nil), 204, "")
	h.want(h.do("DELETE", "/v1.0/groups/"+u, nil), 204, "")
	res = h.do("GET", link, nil)
	vals = res.body["value"].([]any)
	byID := map[string]map[string]any{}
	for _, v := range vals {
		byID[str(v.(map[string]any)["id"])] = v.(map[string]any)
	}
	if len(vals) != 2 {
		t.Fatalf("delta = %v, want the changed group and the deleted one", vals)
	}
	md := byID[g]["members@delta"].([]any)
	got := map[string]bool{}
	for _, e := range md {
		m := e.(map[string]any)
		_, removed := m["@removed"]
		got[str(m["id"])] = removed
	}
	if len(got) != 2 || got[b] || !got[a] {
		t.Errorf("members@delta = %v, want %s added and %s removed", md, b, a)
	}
	if rm, _ := byID[u]["@removed"].(map[string]any); rm["reason"] != "changed" {
		t.Errorf("deleted unified group = %v, want @removed changed", byID[u])
	}
	// Without members in $select, membership changes alone do not show.
	res = h.do("GET", "/v1.0/groups/delta?$deltatoken=latest&$select=displayName", nil)
	link = strings.TrimPrefix(str(res.body["@odata.deltaLink"]), "http://sim.test")
	h.want(h.do("POST", "/v1.0/groups/"+g+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/users/" + a}), 204, "")
	if n := len(h.do("GET", link, nil).body["value"].([]any)); n != 0 {
		t.Errorf("untracked membership change reported (%d items)", n)
	}
}

// A new Microsoft 365 group's address is in the domain an email address
// policy for groups names, else in the default domain ("Choose the domain
// to use when creating Microsoft 365 groups"), so it is not always
// nickname@defaultDomain, nor nickname@initialDomain.
func TestGroupMailDomain(t *testing.T) {
	initial := Domain{ID: "mailtest.onmicrosoft.com", IsVerified: true, IsInitial: true}
	custom := Domain{ID: "mail.school", IsVerified: true}
	groupsDom := Domain{ID: "groups.mail.school", IsVerified: true}
	tests := []struct {
		name      string
		domains   []Domain
		policy    string
		wantMail  string
		wantProxy []string
	}{
		{"new tenant", []Domain{withDefault(initial)}, "", "y7@mailtest.onmicrosoft.com", []string{"SMTP:y7@mailtest.onmicrosoft.com"}},
		{"custom default domain", []Domain{initial, withDefault(custom)}, "", "y7@mail.school",
			[]string{"SMTP:y7@mail.school", "smtp:y7@mailtest.onmicrosoft.com"}},
		{"groups email address policy", []Domain{initial, withDefault(custom), groupsDom}, "groups.mail.school", "y7@groups.mail.school",
			[]string{"SMTP:y7@groups.mail.school", "smtp:y7@mailtest.onmicrosoft.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			if err := h.s.AddTenant(TenantState{ID: "mailtest", Domains: tt.domains, GroupMailDomain: tt.policy}); err != nil {
				t.Fatal(err)
			}
			h.tok = "Bearer sim:mailtest"
			res := h.do("POST", "/v1.0/groups", map[string]any{"displayName": "Y7", "mailNickname": "y7", "mailEnabled": true, "securityEnabled": false, "groupTypes": []string{"Unified"}})
			h.want(res, 201, "")
			if res.body["mail"] != tt.wantMail || !slices.Equal(strSlice(res.body["proxyAddresses"]), tt.wantProxy) {
				t.Errorf("mail %v proxyAddresses %v, want %s %v", res.body["mail"], res.body["proxyAddresses"], tt.wantMail, tt.wantProxy)
			}
			ts, _ := h.s.ExportTenant("mailtest")
			if ts.GroupMailDomain != tt.policy {
				t.Errorf("exported groupMailDomain = %q, want %q", ts.GroupMailDomain, tt.policy)
			}
		})
	}
	t.Run("policy in an unverified domain", func(t *testing.T) {
		s := New(Options{})
		err := s.AddTenant(TenantState{ID: "bad", Domains: []Domain{withDefault(initial), {ID: "pending.school"}}, GroupMailDomain: "pending.school"})
		if !errors.Is(err, ErrBadState) {
			t.Errorf("AddTenant = %v, want ErrBadState", err)
		}
	})
}

func withDefault(d Domain) Domain {
	d.IsDefault = true
	return d
}

// PATCH /groups/{id}: what Graph refuses after creation or app-only.
func TestGroupPatchRules(t *testing.T) {
	h := newHarness(t, Options{})
	uni := h.createGroup("y8all", true)
	sec := h.createGroup("y8sec", false)
	hidden := mathsCls // seeded HiddenMembership class group
	tests := []struct {
		name   string
		group  string
		body   map[string]any
		status int
		code   string
		target string
	}{
		// Exchange-backed properties: delegated only; every sim token is app-only.
		{"hideFromOutlookClients", uni, map[string]any{"hideFromOutlookClients": true}, 403, CodeErrorGroupsAccessDenied, ""},
		{"hideFromAddressLists", uni, map[string]any{"hideFromAddressLists": true}, 403, CodeErrorGroupsAccessDenied, ""},
		{"autoSubscribeNewMembers", uni, map[string]any{"autoSubscribeNewMembers": true}, 403, CodeErrorAccessDenied, ""},
		{"allowExternalSenders", uni, map[string]any{"allowExternalSenders": false}, 403, CodeErrorAccessDenied, ""},
		{"isSubscribedByMail", uni, map[string]any{"isSubscribedByMail": false}, 403, CodeErrorAccessDenied, ""},
		{"Exchange property with others", uni, map[string]any{"description": "x", "hideFromAddressLists": true}, 403, CodeErrorGroupsAccessDenied, ""},
		// Set only at creation.
		{"resourceBehaviorOptions", uni, map[string]any{"resourceBehaviorOptions": []string{"WelcomeEmailDisabled"}}, 400, CodeRequestBadRequest, ""},
		{"groupTypes", sec, map[string]any{"groupTypes": []string{"Unified"}}, 400, CodeRequestBadRequest, ""},
		{"to hidden membership", uni, map[string]any{"visibility": "HiddenMembership"}, 400, CodeRequestBadRequest, "visibility"},
		{"from hidden membership", hidden, map[string]any{"visibility": "Private"}, 400, CodeRequestBadRequest, "visibility"},
		{"unknown visibility", uni, map[string]any{"visibility": "Secret"}, 400, CodeRequestBadRequest, "visibility"},
		{"private", uni, map[string]any{"visibility": "private"}, 204, "", ""},
		{"hidden stays hidden", hidden, map[string]any{"visibility": "HiddenMembership", "description": "7X"}, 204, "", ""},
		// Nicknames are unique among Microsoft 365 groups only.
		{"unified nickname taken", uni, map[string]any{"mailNickname": "7XMATHS"}, 400, CodeRequestBadRequest, "mailNickname"},
		{"security nickname shared", sec, map[string]any{"mailNickname": "7xmaths"}, 204, "", ""},
		{"bad nickname", sec, map[string]any{"mailNickname": "a b"}, 400, CodeRequestBadRequest, "mailNickname"},
		{"empty displayName", sec, map[string]any{"displayName": ""}, 400, CodeRequestBadRequest, "displayName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			res := h.do("PATCH", "/v1.0/groups/"+tt.group, tt.body)
			h.want(res, tt.status, tt.code)
			if tt.target != "" && res.errTarget() != tt.target {
				t.Errorf("details = %v, want target %s", res.body["error"].(map[string]any)["details"], tt.target)
			}
		})
	}
	h.t = t
	g := h.do("GET", "/v1.0/groups/"+uni+"?$select=visibility,description,hideFromAddressLists", nil)
	if g.body["visibility"] != "Private" || g.body["description"] != nil || g.body["hideFromAddressLists"] != nil {
		t.Errorf("group after refused PATCHes = %v, want Private and nothing else changed", g.body)
	}
}

// Membership writes apply at once (a second add is refused) but reads see
// them only after the consistency delay, scaled (graph.md §6).
func TestMembershipReplicates(t *testing.T) {
	h := newHarness(t, Options{ConsistencyDelay: 2 * time.Second, TimeScale: 4}) // 500 ms
	delay := 500 * time.Millisecond
	ids := func(path string) []string {
		h.t.Helper()
		res := h.do("GET", path, nil)
		h.want(res, 200, "")
		var out []string
		for _, v := range res.body["value"].([]any) {
			out = append(out, str(v.(map[string]any)["id"]))
		}
		return out
	}
	expanded := func() []string {
		res := h.do("GET", "/v1.0/groups/"+allStaff+"?$expand=members", nil)
		var out []string
		for _, v := range res.body["members"].([]any) {
			out = append(out, str(v.(map[string]any)["id"]))
		}
		return out
	}
	members := "/v1.0/groups/" + allStaff + "/members"
	ref := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + sam}

	h.want(h.do("POST", members+"/$ref", ref), 204, "")
	if got := ids(members); slices.Contains(got, sam) {
		t.Errorf("members right after the add = %v, want the old membership", got)
	}
	if slices.Contains(expanded(), sam) || slices.Contains(ids("/v1.0/users/"+sam+"/memberOf"), allStaff) {
		t.Error("$expand=members or memberOf saw the add at once")
	}
	res := h.do("POST", members+"/$ref", ref)
	h.want(res, 400, CodeRequestBadRequest)
	if want := "One or more added object references already exist for the following modified properties: 'members'."; res.errMessage() != want {
		t.Errorf("second add = %q, want %q", res.errMessage(), want)
	}
	h.clk.Advance(delay - time.Millisecond)
	if slices.Contains(ids(members), sam) {
		t.Error("the add replicated before the delay")
	}
	h.clk.Advance(time.Millisecond)
	if got := ids(members); !slices.Contains(got, sam) || !slices.Contains(got, ada) {
		t.Errorf("members after the delay = %v, want ada and sam", got)
	}
	if !slices.Contains(expanded(), sam) || !slices.Contains(ids("/v1.0/users/"+sam+"/memberOf"), allStaff) {
		t.Error("$expand=members or memberOf missed the add after the delay")
	}

	// A removal shows the member until it replicates; removing again is 404.
	h.want(h.do("DELETE", members+"/"+sam+"/$ref", nil), 204, "")
	if !slices.Contains(ids(members), sam) {
		t.Error("members right after the removal lost the member already")
	}
	h.want(h.do("DELETE", members+"/"+sam+"/$ref", nil), 404, CodeResourceNotFound)
	// An add and a removal both pending leave the read where it was.
	h.want(h.do("PATCH", "/v1.0/groups/"+allStaff, map[string]any{"members@odata.bind": userRefs(leaver)}), 204, "")
	h.want(h.do("DELETE", members+"/"+leaver+"/$ref", nil), 204, "")
	if got := ids(members); len(got) != 2 || slices.Contains(got, leaver) {
		t.Errorf("members with changes pending = %v, want ada and sam", got)
	}
	h.clk.Advance(delay)
	if got := ids(members); len(got) != 1 || got[0] != ada {
		t.Errorf("members after the delay = %v, want ada", got)
	}
	// The export is the true state, never stale.
	h.want(h.do("POST", members+"/$ref", ref), 204, "")
	ts, _ := h.s.ExportTenant(eduTenant)
	for _, g := range ts.Groups {
		if g["id"] == allStaff && !slices.Contains(strSlice(g["members"]), sam) {
			t.Errorf("export members = %v, want sam at once", g["members"])
		}
	}
}
