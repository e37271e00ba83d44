package graphsim

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// userProps are the user properties the simulator knows, with their JSON
// kinds; they are what $select and request bodies accept.
var userProps = map[string]propKind{
	"id": kString, "accountEnabled": kBool, "ageGroup": kString, "assignedLicenses": kObjects,
	"assignedPlans": kObjects, "businessPhones": kStrings, "city": kString, "companyName": kString,
	"consentProvidedForMinor": kString, "country": kString, "createdDateTime": kString,
	"creationType": kString, "deletedDateTime": kString, "department": kString, "displayName": kString,
	"employeeHireDate": kString, "employeeId": kString, "employeeOrgData": kObject, "employeeType": kString,
	"externalUserState": kString, "faxNumber": kString, "givenName": kString, "identities": kObjects,
	"imAddresses": kStrings, "jobTitle": kString, "mail": kString, "mailNickname": kString,
	"mobilePhone": kString, "officeLocation": kString, "onPremisesExtensionAttributes": kObject,
	"onPremisesImmutableId": kString, "onPremisesSyncEnabled": kBool, "otherMails": kStrings,
	"passwordPolicies": kString, "passwordProfile": kObject, "postalCode": kString,
	"preferredDataLocation": kString, "preferredLanguage": kString, "proxyAddresses": kStrings,
	"showInAddressList": kBool, "signInSessionsValidFromDateTime": kString, "state": kString,
	"streetAddress": kString, "surname": kString, "usageLocation": kString,
	"userPrincipalName": kString, "userType": kString, "licenseAssignmentStates": kObjects,
	"securityIdentifier": kString, "lastPasswordChangeDateTime": kString,
}

// userReadOnly are properties a client may not set.
var userReadOnly = map[string]bool{
	"id": true, "assignedLicenses": true, "assignedPlans": true, "createdDateTime": true,
	"deletedDateTime": true, "proxyAddresses": true, "signInSessionsValidFromDateTime": true,
	"licenseAssignmentStates": true, "securityIdentifier": true, "lastPasswordChangeDateTime": true,
	"onPremisesSyncEnabled": true, "externalUserState": true, "creationType": true,
}

// userDefaults is the property set Graph returns without $select.
var userDefaults = []string{
	"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
}

var userSpec = &resourceSpec{
	typeName: "user", resource: "User",
	props:    keysOf(userProps),
	defaults: userDefaults,
	filter: map[string]string{
		"id": "eq,in", "userPrincipalName": "eq,in,startswith,ge,le", "mail": "eq,in,startswith,ge,le",
		"employeeId": "eq,in,startswith,ge,le", "displayName": "eq,in,startswith,ge,le",
		"accountEnabled": "eq,in", "givenName": "eq,in,startswith,ge,le", "surname": "eq,in,startswith,ge,le",
		"mailNickname": "eq,in,startswith,ge,le", "jobTitle": "eq,in,startswith,ge,le",
		"department": "eq,in,startswith,ge,le", "companyName": "eq,in,startswith,ge,le",
		"usageLocation": "eq,in,startswith,ge,le", "userType": "eq,in", "employeeType": "eq,in,startswith,ge,le",
		"onPremisesImmutableId": "eq,in,startswith,ge,le", "city": "eq,in,startswith,ge,le",
		"country": "eq,in,startswith,ge,le", "state": "eq,in,startswith,ge,le",
		"officeLocation": "eq,in,startswith,ge,le", "preferredLanguage": "eq,in,startswith,ge,le",
		"createdDateTime": "ge,le,eq,in", "proxyAddresses": "any", "otherMails": "any",
		"assignedLicenses": "any", "identities": "any", "imAddresses": "any", "businessPhones": "any",
		"onPremisesExtensionAttributes/extensionAttribute1": "adv:eq,in", "onPremisesExtensionAttributes/extensionAttribute2": "adv:eq,in",
		"onPremisesExtensionAttributes/extensionAttribute3": "adv:eq,in", "onPremisesExtensionAttributes/extensionAttribute4": "adv:eq,in",
		"onPremisesExtensionAttributes/extensionAttribute5": "adv:eq,in", "onPremisesExtensionAttributes/extensionAttribute6": "adv:eq,in",
		"onPremisesExtensionAttributes/extensionAttribute7": "adv:eq,in", "onPremisesExtensionAttributes/extensionAttribute8": "adv:eq,in",
		"onPremisesExtensionAttributes/extensionAttribute9": "adv:eq,in", "onPremisesExtensionAttributes/extensionAttribute10": "adv:eq,in",
		"onPremisesExtensionAttributes/extensionAttribute11": "adv:eq,in", "onPremisesExtensionAttributes/extensionAttribute12": "adv:eq,in",
		"onPremisesExtensionAttributes/extensionAttribute13": "adv:eq,in", "onPremisesExtensionAttributes/extensionAttribute14": "adv:eq,in",
		"onPremisesExtensionAttributes/extensionAttribute15": "adv:eq,in",
	},
	advancedOps: "ne,endswith",
	orderable:   map[string]bool{"displayName": true, "userPrincipalName": true},
	defaultTop:  100,
	maxTop:      999,
}

func keysOf[T any](m map[string]T) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// withUserDefaults fills the properties every stored user has.
func withUserDefaults(p map[string]any) {
	for _, k := range []string{"businessPhones", "assignedLicenses", "proxyAddresses", "otherMails", "imAddresses"} {
		if _, ok := p[k]; !ok {
			p[k] = []any{}
		}
	}
	for _, k := range userDefaults {
		if _, ok := p[k]; !ok {
			p[k] = nil
		}
	}
	if _, ok := p["userType"]; !ok {
		p["userType"] = "Member"
	}
}

// upnChars are the characters Graph allows before the @ of a UPN (graph.md §3.1).
func validUPNLocal(s string) bool {
	if s == "" || len(s) > 64 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, c := range s {
		if c > unicode.MaxASCII || !(unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("'.-_!#^~", c)) {
			return false
		}
	}
	return true
}

// validNickname applies the group mailNickname rule (ASCII, none of
// @ () \ [] " ; : <> , or space); for users '.' is allowed, as user aliases
// such as "first.last" are common (graph.md §3.1 notes the rule is assumed).
func validNickname(s string, allowDot bool) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if c > 127 || c < 33 || strings.ContainsRune(`@()\[]";:<>,`, c) || (!allowDot && c == '.') {
			return false
		}
	}
	return true
}

// strongPassword is Entra's default complexity rule: 8–256 characters,
// three of upper, lower, digit and symbol.
func strongPassword(p string) bool {
	if len(p) < 8 || len(p) > 256 {
		return false
	}
	var up, lo, di, sy int
	for _, c := range p {
		switch {
		case unicode.IsUpper(c):
			up = 1
		case unicode.IsLower(c):
			lo = 1
		case unicode.IsDigit(c):
			di = 1
		default:
			sy = 1
		}
	}
	return up+lo+di+sy >= 3
}

var userMaxLen = map[string]int{
	"displayName": 256, "givenName": 64, "surname": 64, "department": 64, "companyName": 64,
	"jobTitle": 128, "city": 128, "state": 128, "employeeId": 16, "employeeType": 64,
	"officeLocation": 128, "postalCode": 40, "country": 128, "streetAddress": 1024,
}

// validateUser checks body as a create (create=true) or a patch of current.
func (s *Server) validateUser(t *tenant, body map[string]any, create bool, selfID string) *apiError {
	if err := checkTypes(body, "user", userProps); err != nil {
		return err
	}
	for k := range body {
		if userReadOnly[k] {
			return errf(http.StatusBadRequest, CodeRequestBadRequest, "Property '%s' is read-only and cannot be set.", k)
		}
	}
	if create {
		for _, k := range []string{"accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"} {
			v, ok := body[k]
			if !ok || v == nil || v == "" {
				return requiredMissing(k)
			}
		}
	}
	for k, n := range userMaxLen {
		if v, ok := body[k].(string); ok && len([]rune(v)) > n {
			return invalidValue(k, "User")
		}
	}
	if v, ok := body["displayName"]; ok && !create && (v == nil || v == "") {
		return invalidValue("displayName", "User")
	}
	if v, ok := body["mailNickname"]; ok {
		if !validNickname(str(v), true) {
			return invalidValue("mailNickname", "User")
		}
	}
	if v, ok := body["onPremisesExtensionAttributes"].(map[string]any); ok {
		for k, a := range v {
			n, err := strconv.Atoi(strings.TrimPrefix(k, "extensionAttribute"))
			if !strings.HasPrefix(k, "extensionAttribute") || err != nil || n < 1 || n > 15 {
				return errf(http.StatusBadRequest, CodeBadRequest, "The property '%s' does not exist on type 'microsoft.graph.onPremisesExtensionAttributes'. Make sure to only use property names that are defined by the type or mark the type as open type.", k)
			}
			if s, isStr := a.(string); (a != nil && !isStr) || len(s) > 1024 {
				return invalidValue("onPremisesExtensionAttributes", "User")
			}
		}
	}
	if v, ok := body["usageLocation"].(string); ok {
		if len(v) != 2 || strings.ToUpper(v) != v || !unicode.IsLetter(rune(v[0])) || !unicode.IsLetter(rune(v[1])) {
			return invalidValue("usageLocation", "User")
		}
	}
	if v, ok := body["passwordProfile"]; ok {
		pp, _ := v.(map[string]any)
		pw := str(pp["password"])
		if pw == "" && create {
			return requiredMissing("passwordProfile.password")
		}
		policies := str(body["passwordPolicies"])
		if pw != "" && !strings.Contains(policies, "DisableStrongPassword") && !strongPassword(pw) {
			return badRequest("The specified password does not comply with password complexity requirements. Please provide a different password.")
		}
	}
	if v, ok := body["userPrincipalName"]; ok {
		upn := str(v)
		local, dom, found := strings.Cut(upn, "@")
		if !found || strings.Contains(dom, "@") || !validUPNLocal(local) {
			return badRequest("One or more properties contains invalid values.")
		}
		d := t.domain(dom)
		if d == nil || !d.IsVerified {
			e := badRequest("The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.")
			e.details = []errorDetail{{Code: "InvalidValue", Target: "userPrincipalName"}}
			return e
		}
		if d.AuthenticationType == "Federated" && create && str(body["onPremisesImmutableId"]) == "" {
			return requiredMissing("onPremisesImmutableId")
		}
		if owner, prop := t.addressOwner(upn, selfID); owner != "" {
			return conflict(prop)
		}
	}
	if v, ok := body["mail"].(string); ok && v != "" {
		if owner, _ := t.addressOwner(v, selfID); owner != "" {
			return conflict("proxyAddresses")
		}
	}
	return nil
}

// newUser validates body and stores a new user.
func (s *Server) newUser(t *tenant, body map[string]any) (*user, *apiError) {
	if err := s.validateUser(t, body, true, ""); err != nil {
		return nil, err
	}
	id := s.ids.guid()
	p := map[string]any{}
	for k, v := range body {
		if !strings.Contains(k, "@") {
			p[k] = v
		}
	}
	now := graphTime(s.now())
	p["id"] = id
	p["createdDateTime"] = now
	p["signInSessionsValidFromDateTime"] = now
	p["creationType"] = nil
	withUserDefaults(p)
	u := &user{meta: s.stamp(t, objUser, id), props: p}
	t.users[id] = u
	t.liveUsers.Add(1)
	return u, nil
}

func (s *Server) createUser(r *request) (*response, *apiError) {
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	u, err := s.newUser(r.tenant, body)
	if err != nil {
		return nil, err
	}
	out := project(u.props, nil, userDefaults)
	out["@odata.context"] = r.baseURL + "/$metadata#users/$entity"
	return jsonResponse(http.StatusCreated, out), nil
}

// visibleUser finds a user the caller can see now: an unknown id and one
// still replicating both answer Graph's 404 (graph.md §6).
func (s *Server) visibleUser(t *tenant, key string) (*user, *apiError) {
	u := t.findUser(key)
	if u == nil || !s.visible(&u.meta) {
		return nil, notFound(key)
	}
	return u, nil
}

func (s *Server) getUser(r *request, v []string) (*response, *apiError) {
	o, err := parseQuery(r, userSpec)
	if err != nil {
		return nil, err
	}
	u, err := s.visibleUser(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	out := project(s.read(&u.meta, u.props), o.selects, userDefaults)
	out["@odata.context"] = r.baseURL + "/$metadata#users/$entity"
	return jsonResponse(http.StatusOK, out), nil
}

// listedUsers returns the visible users matching o, sorted by id.
func (s *Server) listedUsers(t *tenant, o *queryOpts) ([]*user, []string) {
	var us []*user
	var ids []string
	for _, id := range sortedIDs(t.users) {
		u := t.users[id]
		if u.deleted || !s.visible(&u.meta) {
			continue
		}
		if !o.matches(s.read(&u.meta, u.props)) {
			continue
		}
		us = append(us, u)
		ids = append(ids, id)
	}
	return us, ids
}

func (s *Server) listUsers(r *request) (*response, *apiError) {
	o, err := parseQuery(r, userSpec)
	if err != nil {
		return nil, err
	}
	us, ids := s.listedUsers(r.tenant, o)
	items := make([]map[string]any, len(us))
	props := make([]map[string]any, len(us))
	for i, u := range us {
		props[i] = s.read(&u.meta, u.props)
		items[i] = project(props[i], o.selects, userDefaults)
	}
	items, ids = o.ordered(items, ids, props)
	return s.page(r, o, items, ids, "users", nil), nil
}

// countUsers is GET /users/$count, an advanced query (graph.md §3.5).
func (s *Server) countUsers(r *request) (*response, *apiError) {
	if !strings.EqualFold(r.header.Get("ConsistencyLevel"), "eventual") {
		return nil, badRequest("$count is not currently supported.")
	}
	o, err := parseQuery(r, userSpec)
	if err != nil {
		return nil, err
	}
	us, _ := s.listedUsers(r.tenant, o)
	return &response{status: http.StatusOK, header: http.Header{}, raw: []byte(fmtInt(len(us))), contentType: "text/plain"}, nil
}

func (s *Server) patchUser(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.visibleUser(t, v[0])
	if err != nil {
		return nil, err
	}
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if err := s.validateUser(t, body, false, u.id); err != nil {
		return nil, err
	}
	s.remember(&u.meta, u.props, body)
	for k, val := range body {
		if strings.Contains(k, "@") {
			continue
		}
		if k == "passwordProfile" {
			u.props["lastPasswordChangeDateTime"] = graphTime(s.now())
		}
		if k == "onPremisesExtensionAttributes" {
			// A complex property PATCHes key by key: attributes not named keep
			// their values; null clears one.
			merged, _ := cloneMap(map[string]any{"x": u.props[k]})["x"].(map[string]any)
			if merged == nil {
				merged = map[string]any{}
			}
			if nv, ok := val.(map[string]any); ok {
				for ak, av := range nv {
					merged[ak] = av
				}
				val = merged
			}
		}
		u.props[k] = val
	}
	t.touch(objUser, &u.meta)
	return noContent(), nil
}

func (s *Server) deleteUser(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.visibleUser(t, v[0])
	if err != nil {
		return nil, err
	}
	s.removeUser(t, u)
	return noContent(), nil
}

// removeUser soft-deletes u: it leaves every group and school, frees its
// licences and shows in delta as @removed "changed" (restorable).
func (s *Server) removeUser(t *tenant, u *user) {
	for _, gid := range sortedIDs(t.groups) {
		g := t.groups[gid]
		if g.deleted {
			continue
		}
		for _, rel := range []string{"members", "owners"} {
			if contains(g.refs(rel), u.id) {
				g.setRefs(rel, remove(g.refs(rel), u.id))
				s.logMember(t, g.id, u.id, rel, true)
			}
		}
	}
	for _, sc := range t.schools {
		sc.users = remove(sc.users, u.id)
	}
	for _, l := range assignedSkuIDs(u.props) {
		if k := t.sku(l); k != nil && k.consumed > 0 {
			k.consumed--
		}
	}
	u.deleted = true
	u.removedReason = "changed"
	t.touch(objUser, &u.meta)
	t.liveUsers.Add(-1)
}

func (s *Server) revokeSessions(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.visibleUser(t, v[0])
	if err != nil {
		return nil, err
	}
	u.props["signInSessionsValidFromDateTime"] = graphTime(s.now())
	t.touch(objUser, &u.meta)
	return jsonResponse(http.StatusOK, map[string]any{
		"@odata.context": r.baseURL + "/$metadata#Edm.Boolean",
		"value":          true,
	}), nil
}

func (s *Server) userMemberOf(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.visibleUser(t, v[0])
	if err != nil {
		return nil, err
	}
	o, err := parseQuery(r, groupSpec)
	if err != nil {
		return nil, err
	}
	var items []map[string]any
	var ids []string
	for _, gid := range sortedIDs(t.groups) {
		g := t.groups[gid]
		if g.deleted || !s.visible(&g.meta) || !contains(s.seenRefs(t, g, "members"), u.id) {
			continue
		}
		if o.filter != nil && !o.filter.eval(g.props, nil) {
			continue
		}
		it := project(g.props, o.selects, groupDefaults)
		it["@odata.type"] = "#microsoft.graph.group"
		items = append(items, it)
		ids = append(ids, gid)
	}
	return s.page(r, o, items, ids, "directoryObjects", nil), nil
}

func (s *Server) getDirectoryObject(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	if u := t.findUser(v[0]); u != nil && s.visible(&u.meta) {
		out := project(u.props, nil, userDefaults)
		out["@odata.type"] = "#microsoft.graph.user"
		return jsonResponse(http.StatusOK, out), nil
	}
	if g := t.findGroup(v[0]); g != nil && s.visible(&g.meta) {
		out := project(g.props, nil, groupDefaults)
		out["@odata.type"] = "#microsoft.graph.group"
		return jsonResponse(http.StatusOK, out), nil
	}
	return nil, notFound(v[0])
}
