package graphsim

import (
	"net/http"
	"strings"
)

var groupProps = map[string]propKind{
	"id": kString, "allowExternalSenders": kBool, "assignedLabels": kObjects, "assignedLicenses": kObjects,
	"autoSubscribeNewMembers": kBool, "classification": kString, "createdDateTime": kString,
	"deletedDateTime": kString, "description": kString, "displayName": kString,
	"expirationDateTime": kString, "groupTypes": kStrings, "hideFromAddressLists": kBool,
	"hideFromOutlookClients": kBool, "isAssignableToRole": kBool, "isSubscribedByMail": kBool,
	"mail": kString, "mailEnabled": kBool, "mailNickname": kString, "membershipRule": kString,
	"membershipRuleProcessingState": kString, "onPremisesSyncEnabled": kBool,
	"preferredDataLocation": kString, "preferredLanguage": kString, "proxyAddresses": kStrings,
	"renewedDateTime": kString, "resourceBehaviorOptions": kStrings,
	"resourceProvisioningOptions": kStrings, "securityEnabled": kBool, "securityIdentifier": kString,
	"theme": kString, "visibility": kString, "unseenCount": kInt,
	// Navigation properties that $select accepts (groups delta tracks members).
	"members": kAny, "owners": kAny,
}

var groupReadOnly = map[string]bool{
	"id": true, "createdDateTime": true, "deletedDateTime": true, "expirationDateTime": true,
	"mail": true, "proxyAddresses": true, "renewedDateTime": true, "resourceProvisioningOptions": true,
	"securityIdentifier": true, "onPremisesSyncEnabled": true, "assignedLicenses": true,
	"members": true, "owners": true,
}

// groupNotOnCreate are properties Graph refuses on POST /groups; they can
// be PATCHed afterwards (graph.md §4.1).
var groupNotOnCreate = []string{"allowExternalSenders", "autoSubscribeNewMembers", "hideFromAddressLists", "hideFromOutlookClients", "isSubscribedByMail", "unseenCount"}

// groupBehaviorOptions are the documented resourceBehaviorOptions values
// (concepts/group-set-options.md; SkipExchangeInstantOn is "internal use
// only. DO NOT USE" and refused). They are "for Microsoft 365 groups" and
// "can be set only at creation" (ibid.; resources/group.md: "This can be
// set only as part of creation (POST)").
var groupBehaviorOptions = map[string]bool{
	"AllowOnlyMembersToPost": true, "CalendarMemberReadOnly": true, "ConnectorsDisabled": true,
	"HideGroupInOutlook": true, "SubscribeMembersToCalendarEventsDisabled": true,
	"SubscribeNewGroupMembers": true, "WelcomeEmailDisabled": true, "ProvisionSiteOnDemand": true,
}

// groupVisibilities maps the documented visibility values, any case, to
// the spelling Graph returns. resources/group.md: "Private, Public, or
// Hiddenmembership. Hiddenmembership can be set only for Microsoft 365
// groups, when the groups are created. It can't be updated later."
var groupVisibilities = map[string]string{"public": "Public", "private": "Private", "hiddenmembership": "HiddenMembership"}

// groupExchangeProps are the group properties Exchange Online keeps. Every
// simulator token is an application (app-only) token, and Graph refuses
// writes of these app-only: group-update.md ("All other members of the
// group API, including updating autoSubscribeNewMembers, support only
// delegated permissions"), known-issues.md (groups: "External senders,
// accepted or rejected senders, group subscription" and "User favorites
// and unseen count" are delegated only). The code is the one reported for
// each property: ErrorAccessDenied for allowExternalSenders and
// autoSubscribeNewMembers (microsoft-graph-docs-contrib#7866),
// ErrorGroupsAccessDenied for hideFromAddressLists and
// hideFromOutlookClients (#5138); isSubscribedByMail and unseenCount get
// ErrorAccessDenied as a best guess (no report found).
var groupExchangeProps = map[string]string{
	"allowExternalSenders": CodeErrorAccessDenied, "autoSubscribeNewMembers": CodeErrorAccessDenied,
	"isSubscribedByMail": CodeErrorAccessDenied, "unseenCount": CodeErrorAccessDenied,
	"hideFromAddressLists": CodeErrorGroupsAccessDenied, "hideFromOutlookClients": CodeErrorGroupsAccessDenied,
}

// appOnlyRefused is the 403 for an app-only write of an Exchange-backed
// property. The message is #7866's; #5138 quotes no message for
// ErrorGroupsAccessDenied, so reusing it there is a best guess.
func appOnlyRefused(property string) *apiError {
	return errf(http.StatusForbidden, groupExchangeProps[property], "Access is denied. Check credentials and try again.")
}

var groupDefaults = []string{
	"id", "deletedDateTime", "classification", "createdDateTime", "description", "displayName",
	"expirationDateTime", "groupTypes", "isAssignableToRole", "mail", "mailEnabled", "mailNickname",
	"membershipRule", "membershipRuleProcessingState", "onPremisesSyncEnabled", "preferredDataLocation",
	"preferredLanguage", "proxyAddresses", "renewedDateTime", "resourceBehaviorOptions",
	"resourceProvisioningOptions", "securityEnabled", "securityIdentifier", "theme", "visibility",
}

var groupSpec = &resourceSpec{
	typeName: "group", resource: "Group",
	props:    keysOf(groupProps),
	defaults: groupDefaults,
	filter: map[string]string{
		"id": "eq,in", "displayName": "eq,in,startswith,ge,le", "mailNickname": "eq,in,startswith,ge,le",
		"mail": "eq,in,startswith,ge,le", "securityEnabled": "eq,in", "mailEnabled": "eq,in",
		"groupTypes": "any", "resourceProvisioningOptions": "any", "proxyAddresses": "any",
		"createdDateTime": "ge,le,eq,in", "classification": "eq,in,startswith,ge,le",
		"description": "eq,in,startswith,ge,le", "visibility": "eq,in", "isAssignableToRole": "eq,in",
	},
	advancedOps: "ne,endswith",
	orderable:   map[string]bool{"displayName": true},
	defaultTop:  100,
	maxTop:      999,
}

// maxRefsPerWrite is Graph's cap on references added in one group create
// or PATCH (graph.md §4.1, §4.2).
const maxRefsPerWrite = 20

func withGroupDefaults(p map[string]any) {
	for _, k := range []string{"groupTypes", "proxyAddresses", "resourceBehaviorOptions", "resourceProvisioningOptions"} {
		if _, ok := p[k]; !ok {
			p[k] = []any{}
		}
	}
	for _, k := range groupDefaults {
		if _, ok := p[k]; !ok {
			p[k] = nil
		}
	}
}

func (g *group) refs(rel string) []string {
	if rel == "owners" {
		return g.owners
	}
	return g.members
}

func (g *group) setRefs(rel string, v []string) {
	if rel == "owners" {
		g.owners = v
	} else {
		g.members = v
	}
}

func (g *group) unified() bool { return contains(strSlice(g.props["groupTypes"]), "Unified") }

// unifiedNicknameOwner returns the live Microsoft 365 group other than
// except that already has nick as its mailNickname. Nicknames are "unique
// for Microsoft 365 groups in the organization" (group-post-groups.md);
// security groups may share one (microsoft-graph-docs#14716).
func (t *tenant) unifiedNicknameOwner(nick, except string) *group {
	for _, id := range sortedIDs(t.groups) {
		g := t.groups[id]
		if g.deleted || id == except || !g.unified() {
			continue
		}
		if strings.EqualFold(str(g.props["mailNickname"]), nick) {
			return g
		}
	}
	return nil
}

// logMember records a membership change, for groups delta and for reads
// that have not caught up with it yet (seenRefs).
func (s *Server) logMember(t *tenant, groupID, member, rel string, removed bool) {
	t.memberLog = append(t.memberLog, memberChange{seq: t.nextSeq(), at: s.now(), groupID: groupID, member: member, rel: rel, removed: removed})
}

// seenRefs is g's rel collection as a read sees it now. Membership changes
// replicate like everything else in the directory (graph.md §6): for
// ConsistencyDelay (scaled) after a write, reads still show the old
// membership, so a read right after an add can miss the new member. Writes
// check the true collection (refs), so a second add of the same member is
// still refused at once.
func (s *Server) seenRefs(t *tenant, g *group, rel string) []string {
	refs := g.refs(rel)
	if s.opts.ConsistencyDelay <= 0 {
		return refs
	}
	cutoff := s.now().Add(-s.scaled(s.opts.ConsistencyDelay))
	var out []string
	stale := false
	// memberLog is in time order: walk back over the changes not yet
	// replicated, undoing this group's, newest first.
	for i := len(t.memberLog) - 1; i >= 0; i-- {
		c := t.memberLog[i]
		if !c.at.After(cutoff) {
			break
		}
		if c.groupID != g.id || c.rel != rel {
			continue
		}
		if !stale {
			out = append([]string(nil), refs...)
			stale = true
		}
		if c.removed {
			if !contains(out, c.member) {
				out = append(out, c.member)
			}
		} else {
			out = remove(out, c.member)
		}
	}
	if !stale {
		return refs
	}
	return out
}

func refAlreadyExists(rel string) *apiError {
	return badRequest("One or more added object references already exist for the following modified properties: '%s'.", rel)
}

// checkRefs validates ids to add to g's rel collection, all or nothing:
// unknown ids are 404, objects still replicating are "Not a valid
// reference update" (graph.md §6), existing members fail the whole write.
func (s *Server) checkRefs(t *tenant, g *group, unified bool, rel string, ids []string) *apiError {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return badRequest("One or more added object references can only be present once as an add/remove change for the following modified properties: '%s'.", rel)
		}
		seen[id] = true
		u := t.users[id]
		var gm *group
		if u == nil || u.deleted {
			u = nil
			gm = t.findGroup(id)
		}
		switch {
		case u == nil && gm == nil:
			return notFound(id)
		case u != nil && !s.visible(&u.meta), gm != nil && !s.visible(&gm.meta):
			return badRequest("Not a valid reference update.")
		case gm != nil && rel == "owners":
			return badRequest("Only users and service principals can be owners of a group.")
		case gm != nil && (unified || gm.unified()):
			// Microsoft 365 groups take users only; only security groups
			// nest (graph.md §4.2 nesting table).
			return badRequest("An object of type 'Group' cannot be added to the '%s' of group '%s'.", rel, groupIDOrNew(g))
		case gm != nil && g != nil && gm.id == g.id:
			return badRequest("A group cannot be a member of itself.")
		}
		if g != nil && contains(g.refs(rel), id) {
			return refAlreadyExists(rel)
		}
	}
	return nil
}

func groupIDOrNew(g *group) string {
	if g == nil {
		return "new"
	}
	return g.id
}

func (s *Server) addRefs(t *tenant, g *group, rel string, ids []string) {
	for _, id := range ids {
		g.setRefs(rel, append(g.refs(rel), id))
		s.logMember(t, g.id, id, rel, false)
	}
}

// newGroup validates body and stores a group; extra relationship binds
// are limited to 20 in total (graph.md §4.1).
func (s *Server) newGroup(t *tenant, body map[string]any) (*group, *apiError) {
	if err := checkTypes(body, "group", groupProps); err != nil {
		return nil, err
	}
	for k := range body {
		if groupReadOnly[k] {
			return nil, errf(http.StatusBadRequest, CodeRequestBadRequest, "Property '%s' is read-only and cannot be set.", k)
		}
	}
	for _, k := range groupNotOnCreate {
		if _, ok := body[k]; ok {
			return nil, badRequest("Property '%s' cannot be set during group creation. Update the group after it is created.", k)
		}
	}
	for _, k := range []string{"displayName", "mailEnabled", "mailNickname", "securityEnabled"} {
		if v, ok := body[k]; !ok || v == nil || v == "" {
			return nil, requiredMissing(k)
		}
	}
	if len([]rune(str(body["displayName"]))) > 256 {
		return nil, invalidValue("displayName", "Group")
	}
	nick := str(body["mailNickname"])
	if !validNickname(nick, false) {
		return nil, invalidValue("mailNickname", "Group")
	}
	types := strSlice(body["groupTypes"])
	unified := contains(types, "Unified")
	for _, gt := range types {
		if gt != "Unified" && gt != "DynamicMembership" {
			return nil, invalidValue("groupTypes", "Group")
		}
	}
	if contains(types, "DynamicMembership") && str(body["membershipRule"]) == "" {
		return nil, requiredMissing("membershipRule")
	}
	if body["mailEnabled"] == true && !unified {
		return nil, badRequest("The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or is set to false.")
	}
	if opts := strSlice(body["resourceBehaviorOptions"]); len(opts) > 0 {
		// Microsoft 365 groups only (group-set-options.md); the error for a
		// security group is undocumented: Graph's generic invalid value.
		if !unified {
			return nil, invalidValue("resourceBehaviorOptions", "Group")
		}
		for _, o := range opts {
			if !groupBehaviorOptions[o] {
				return nil, invalidValue("resourceBehaviorOptions", "Group")
			}
		}
	}
	if v, ok := body["visibility"]; ok && v != nil {
		vis, known := groupVisibilities[strings.ToLower(str(v))]
		if !known || (vis == "HiddenMembership" && !unified) {
			// HiddenMembership is for Microsoft 365 groups only
			// (resources/group.md); the error shape is Graph's generic one.
			return nil, invalidValue("visibility", "Group")
		}
		body["visibility"] = vis
	}
	binds := map[string][]string{}
	total := 0
	for _, rel := range []string{"owners", "members"} {
		v, ok := body[rel+"@odata.bind"]
		if !ok {
			continue
		}
		ids, err := bindList(v, rel+"@odata.bind")
		if err != nil {
			return nil, err
		}
		binds[rel] = ids
		total += len(ids)
	}
	if total > maxRefsPerWrite {
		return nil, badRequest("A maximum of %d relationships, such as owners and members, can be added as part of group creation.", maxRefsPerWrite)
	}
	for _, rel := range []string{"owners", "members"} {
		if err := s.checkRefs(t, nil, unified, rel, binds[rel]); err != nil {
			return nil, err
		}
	}
	var mail, moera string
	if unified {
		if t.unifiedNicknameOwner(nick, "") != nil {
			// "Another object with the same value for property mailNickname
			// already exists." (microsoft-graph-docs#5122, o365-moodle#1181).
			return nil, conflict("mailNickname")
		}
		mail = nick + "@" + t.groupMailDomain()
		if owner, _ := t.addressOwner(mail, ""); owner != "" {
			return nil, conflict("proxyAddresses")
		}
		if d := t.initialDomain(); !strings.EqualFold(d, t.groupMailDomain()) {
			moera = nick + "@" + d
		}
	}
	id := s.ids.guid()
	now := graphTime(s.now())
	p := map[string]any{}
	for k, v := range body {
		if !strings.Contains(k, "@") {
			p[k] = v
		}
	}
	p["id"] = id
	p["createdDateTime"] = now
	p["renewedDateTime"] = now
	p["groupTypes"] = stringsToAny(types)
	p["securityIdentifier"] = "S-1-12-1-" + strings.ReplaceAll(id[:13], "-", "")
	if unified {
		p["mail"] = mail
		p["proxyAddresses"] = []any{"SMTP:" + mail}
		if moera != "" {
			// Exchange also stamps the Microsoft Online Email Routing
			// Address, nickname@tenant.onmicrosoft.com, as a secondary
			// address (Set-UnifiedGroup: "There must be at least one MOERA
			// address attached to a group").
			p["proxyAddresses"] = []any{"SMTP:" + mail, "smtp:" + moera}
		}
		if p["visibility"] == nil {
			p["visibility"] = "Public"
		}
	}
	withGroupDefaults(p)
	g := &group{meta: s.stamp(t, objGroup, id), props: p}
	t.groups[id] = g
	s.addRefs(t, g, "owners", binds["owners"])
	s.addRefs(t, g, "members", binds["members"])
	return g, nil
}

func stringsToAny(in []string) []any {
	out := make([]any, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}

func (s *Server) createGroup(r *request) (*response, *apiError) {
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	g, err := s.newGroup(r.tenant, body)
	if err != nil {
		return nil, err
	}
	out := project(g.props, nil, groupDefaults)
	out["@odata.context"] = r.baseURL + "/$metadata#groups/$entity"
	return jsonResponse(http.StatusCreated, out), nil
}

func (s *Server) visibleGroup(t *tenant, id string) (*group, *apiError) {
	g := t.findGroup(id)
	if g == nil || !s.visible(&g.meta) {
		return nil, notFound(id)
	}
	return g, nil
}

func (s *Server) getGroup(r *request, v []string) (*response, *apiError) {
	o, err := parseQuery(r, groupSpec)
	if err != nil {
		return nil, err
	}
	g, err := s.visibleGroup(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	out := project(s.read(&g.meta, g.props), withoutNav(o.selects), groupDefaults)
	out["@odata.context"] = r.baseURL + "/$metadata#groups/$entity"
	if exp := r.query.Get("$expand"); exp != "" {
		for _, rel := range strings.Split(exp, ",") {
			rel = strings.TrimSpace(rel)
			if rel != "members" && rel != "owners" {
				return nil, errf(http.StatusBadRequest, CodeBadRequest, "Could not find a property named '%s' on type 'microsoft.graph.group'.", rel)
			}
			out[rel] = s.refObjects(r.tenant, s.seenRefs(r.tenant, g, rel), nil)
		}
	}
	return jsonResponse(http.StatusOK, out), nil
}

// withoutNav drops navigation properties from a $select list.
func withoutNav(sel []string) []string {
	var out []string
	for _, p := range sel {
		if p != "members" && p != "owners" {
			out = append(out, p)
		}
	}
	if len(sel) > 0 && len(out) == 0 {
		return []string{"id"}
	}
	return out
}

// refObjects renders directory objects by id with their @odata.type.
func (s *Server) refObjects(t *tenant, ids []string, selects []string) []map[string]any {
	out := []map[string]any{}
	for _, id := range ids {
		if u := t.users[id]; u != nil && !u.deleted {
			it := project(u.props, selects, userDefaults)
			it["@odata.type"] = "#microsoft.graph.user"
			out = append(out, it)
		} else if g := t.findGroup(id); g != nil {
			it := project(g.props, selects, groupDefaults)
			it["@odata.type"] = "#microsoft.graph.group"
			out = append(out, it)
		}
	}
	return out
}

func (s *Server) listedGroups(t *tenant, o *queryOpts) ([]*group, []string) {
	var gs []*group
	var ids []string
	for _, id := range sortedIDs(t.groups) {
		g := t.groups[id]
		if g.deleted || !s.visible(&g.meta) {
			continue
		}
		if !o.matches(s.read(&g.meta, g.props)) {
			continue
		}
		gs = append(gs, g)
		ids = append(ids, id)
	}
	return gs, ids
}

func (s *Server) listGroups(r *request) (*response, *apiError) {
	o, err := parseQuery(r, groupSpec)
	if err != nil {
		return nil, err
	}
	gs, ids := s.listedGroups(r.tenant, o)
	items := make([]map[string]any, len(gs))
	props := make([]map[string]any, len(gs))
	for i, g := range gs {
		props[i] = s.read(&g.meta, g.props)
		items[i] = project(props[i], withoutNav(o.selects), groupDefaults)
	}
	items, ids = o.ordered(items, ids, props)
	return s.page(r, o, items, ids, "groups", nil), nil
}

func (s *Server) countGroups(r *request) (*response, *apiError) {
	if !strings.EqualFold(r.header.Get("ConsistencyLevel"), "eventual") {
		return nil, badRequest("$count is not currently supported.")
	}
	o, err := parseQuery(r, groupSpec)
	if err != nil {
		return nil, err
	}
	gs, _ := s.listedGroups(r.tenant, o)
	return &response{status: http.StatusOK, header: http.Header{}, raw: []byte(fmtInt(len(gs))), contentType: "text/plain"}, nil
}

// patchGroup updates properties and adds members/owners by
// members@odata.bind (≤ 20); any error adds nothing (graph.md §4.2).
func (s *Server) patchGroup(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g, err := s.visibleGroup(t, v[0])
	if err != nil {
		return nil, err
	}
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(body, "group", groupProps); err != nil {
		return nil, err
	}
	for _, k := range sortedIDs(body) {
		if groupExchangeProps[k] != "" {
			return nil, appOnlyRefused(k)
		}
	}
	for k := range body {
		// resourceBehaviorOptions "can be set only at creation"
		// (group-set-options.md).
		if groupReadOnly[k] || k == "resourceBehaviorOptions" || k == "groupTypes" {
			return nil, errf(http.StatusBadRequest, CodeRequestBadRequest, "Property '%s' is read-only and cannot be set.", k)
		}
	}
	if dn, ok := body["displayName"]; ok && (dn == nil || dn == "" || len([]rune(str(dn))) > 256) {
		return nil, invalidValue("displayName", "Group")
	}
	if nick, ok := body["mailNickname"]; ok {
		if !validNickname(str(nick), false) {
			return nil, invalidValue("mailNickname", "Group")
		}
		if g.unified() && t.unifiedNicknameOwner(str(nick), g.id) != nil {
			return nil, conflict("mailNickname")
		}
	}
	if v, ok := body["visibility"]; ok {
		// "" is "interpreted as Public" (group-update.md); HiddenMembership
		// is set only at creation and never changed later
		// (resources/group.md). Error shape: Graph's generic invalid value.
		vis, known := groupVisibilities[strings.ToLower(str(v))]
		if v == nil || v == "" {
			vis, known = "Public", true
		}
		wasHidden := strings.EqualFold(str(g.props["visibility"]), "HiddenMembership")
		if !known || (vis == "HiddenMembership") != wasHidden {
			return nil, invalidValue("visibility", "Group")
		}
		body["visibility"] = vis
	}
	binds := map[string][]string{}
	for _, rel := range []string{"owners", "members"} {
		val, ok := body[rel+"@odata.bind"]
		if !ok {
			continue
		}
		ids, err := bindList(val, rel+"@odata.bind")
		if err != nil {
			return nil, err
		}
		if len(ids) > maxRefsPerWrite {
			return nil, badRequest("The maximum number of references that can be added in a single request is %d.", maxRefsPerWrite)
		}
		if err := s.checkRefs(t, g, g.unified(), rel, ids); err != nil {
			return nil, err
		}
		binds[rel] = ids
	}
	s.remember(&g.meta, g.props, body)
	for k, val := range body {
		if !strings.Contains(k, "@") {
			g.props[k] = val
		}
	}
	s.addRefs(t, g, "owners", binds["owners"])
	s.addRefs(t, g, "members", binds["members"])
	t.touch(objGroup, &g.meta)
	return noContent(), nil
}

func (s *Server) listGroupRefs(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g, err := s.visibleGroup(t, v[0])
	if err != nil {
		return nil, err
	}
	o, err := parseQuery(r, &resourceSpec{typeName: "directoryObject", defaultTop: 100, maxTop: 999})
	if err != nil {
		return nil, err
	}
	ids := sortStrings(s.seenRefs(t, g, v[1]))
	items := s.refObjects(t, ids, o.selects)
	if o.filter != nil {
		var fi []map[string]any
		var fids []string
		for i, it := range items {
			if o.filter.eval(it, nil) {
				fi = append(fi, it)
				fids = append(fids, ids[i])
			}
		}
		items, ids = fi, fids
	}
	return s.page(r, o, items, ids, "directoryObjects", nil), nil
}

// addGroupRef is POST /groups/{id}/members/$ref (or owners).
func (s *Server) addGroupRef(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g, err := s.visibleGroup(t, v[0])
	if err != nil {
		return nil, err
	}
	id, err := refFromBody(r)
	if err != nil {
		return nil, err
	}
	rel := v[1]
	if err := s.checkRefs(t, g, g.unified(), rel, []string{id}); err != nil {
		return nil, err
	}
	s.addRefs(t, g, rel, []string{id})
	return noContent(), nil
}

// removeGroupRef is DELETE /groups/{id}/members/{memberId}/$ref.
func (s *Server) removeGroupRef(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g, err := s.visibleGroup(t, v[0])
	if err != nil {
		return nil, err
	}
	id, rel := strings.ToLower(v[1]), v[2]
	if !contains(g.refs(rel), id) {
		return nil, notFound(id)
	}
	g.setRefs(rel, remove(g.refs(rel), id))
	s.logMember(t, g.id, id, rel, true)
	return noContent(), nil
}

func (s *Server) deleteGroup(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g, err := s.visibleGroup(t, v[0])
	if err != nil {
		return nil, err
	}
	s.removeGroup(t, g)
	return noContent(), nil
}

// removeGroup deletes g: Microsoft 365 groups are soft-deleted (delta
// @removed "changed"), security groups hard-deleted ("deleted").
func (s *Server) removeGroup(t *tenant, g *group) {
	for _, other := range t.groups {
		if other.deleted || !contains(other.members, g.id) {
			continue
		}
		other.members = remove(other.members, g.id)
		s.logMember(t, other.id, g.id, "members", true)
	}
	for _, sc := range t.schools {
		sc.classes = remove(sc.classes, g.id)
	}
	g.deleted = true
	g.removedReason = "deleted"
	if g.unified() {
		g.removedReason = "changed"
	}
	t.touch(objGroup, &g.meta)
}
