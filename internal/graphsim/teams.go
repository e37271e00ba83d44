package graphsim

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"time"
)

func teamsCost(op, teamID string, write bool) cost {
	return cost{family: famTeams, teamsOp: op, teamID: strings.ToLower(teamID), write: write, kind: "teams"}
}

func (s *Server) resolveTeams(r *request) (*route, *apiError) {
	segs := r.segs
	var v []string
	switch {
	case match(segs, &v, "teams"):
		return byMethod{"POST": {teamsCost("POST /teams", "", true), (*Server).createTeam}}.pick(r.method)
	case match(segs, &v, "teams", "*"):
		return byMethod{
			"GET":   {teamsCost("GET /teams/{id}", v[0], false), withVars(v, (*Server).getTeam)},
			"PATCH": {teamsCost("PATCH /teams/{id}", v[0], true), withVars(v, (*Server).patchTeam)},
		}.pick(r.method)
	case match(segs, &v, "teams", "*", "members"):
		return byMethod{"GET": {teamsCost("GET /teams/{id}/members", v[0], false), withVars(v, (*Server).listTeamMembers)}}.pick(r.method)
	case match(segs, &v, "teams", "*", "operations", "*"):
		return byMethod{"GET": {teamsCost("GET /teams/{id}", v[0], false), withVars(v, (*Server).getTeamOperation)}}.pick(r.method)
	case match(segs, &v, "teams", "*", "archive"), match(segs, &v, "teams", "*", "unarchive"):
		return byMethod{"POST": {teamsCost("default", v[0], true), withVars(append(v, strings.ToLower(segs[2])), (*Server).archiveTeam)}}.pick(r.method)
	}
	return nil, segmentNotFound(segs[len(segs)-1])
}

// teamReplicating reports whether g is still too young to team-ify; Graph
// answers 404 for up to 15 minutes after the group is created (graph.md §5).
func (s *Server) teamReplicating(g *group) bool {
	if s.opts.TeamReplicationDelay <= 0 || g.created.IsZero() {
		return false
	}
	return s.now().Before(g.created.Add(s.scaled(s.opts.TeamReplicationDelay)))
}

func groupNotReplicated(id string) *apiError {
	return errf(http.StatusNotFound, CodeNotFound,
		"Failed to execute Templates backend request CreateTeamFromGroupWithTemplateRequest. Response Status Code: NotFound, ErrorMessage: Group %s was not found. It may not have replicated yet.", id)
}

// notAClass is the Teams templates backend's refusal of the educationClass
// template on a group that is not an education class (reported verbatim in
// microsoftgraph/msgraph-sdk-dotnet#532 and microsoft/o365-moodle#2114,
// both 400 BadRequest wrapping the backend's PUT).
func notAClass(id string) *apiError {
	return errf(http.StatusBadRequest, CodeBadRequest,
		"Failed to execute Templates backend request CreateTeamFromGroupWithTemplateRequest. Request Url: https://teams.microsoft.com/fabric/templates/api/groups/%s/team, Request Method: PUT, Response Status Code: BadRequest, ErrorMessage : {\"errors\":[{\"message\":\"Team with template 'educationClass' can not be provisioned using a group which does not belong to a class.\",\"errorCode\":\"Unknown\"}]}", id)
}

func teamNotFound(id string) *apiError {
	return errf(http.StatusNotFound, CodeNotFound, "No team found with Group Id %s", id)
}

// teamReady returns g's team once provisioning finished.
func (s *Server) teamReady(g *group) bool {
	return g != nil && g.team != nil && !g.team.failed && !s.now().Before(g.team.created)
}

func (s *Server) teamView(g *group) map[string]any {
	s.settle(g.team)
	spec := "none"
	if g.class != nil {
		spec = "educationClass"
	}
	if v, ok := g.team.props["specialization"]; ok {
		spec = str(v)
	}
	out := map[string]any{
		"id": g.id, "displayName": g.props["displayName"], "description": g.props["description"],
		"isArchived": g.team.archived, "visibility": teamVisibility(g.props["visibility"]), "specialization": spec,
		"webUrl":          "https://teams.microsoft.com/l/team/19%3a" + strings.ReplaceAll(g.id, "-", "") + "%40thread.tacv2/conversations?groupId=" + g.id,
		"internalId":      "19:" + strings.ReplaceAll(g.id, "-", "") + "@thread.tacv2",
		"createdDateTime": graphTime(g.team.created),
	}
	for k, v := range g.team.props {
		if k != "specialization" {
			out[k] = v
		}
	}
	return out
}

// teamVisibility maps a group's visibility ("HiddenMembership") to the
// team's teamVisibilityType enum ("hiddenMembership").
func teamVisibility(v any) any {
	s := str(v)
	if s == "" {
		return nil
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// teamable checks that g can get a team: visible, replicated, a Microsoft
// 365 group with an owner, no team yet.
func (s *Server) teamable(t *tenant, id string) (*group, *apiError) {
	g := t.findGroup(id)
	if g == nil || !s.visible(&g.meta) || s.teamReplicating(g) {
		return nil, groupNotReplicated(id)
	}
	if !g.unified() {
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "Group %s is not a Microsoft 365 group; only Microsoft 365 groups can have a team.", id)
	}
	if len(g.owners) == 0 {
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "Group %s has no owner; a team needs at least one owner.", id)
	}
	if g.team != nil && g.team.failed && !s.now().Before(g.team.created) {
		// The createTeam operation failed: no team was made.
		g.team = nil
	}
	if g.team != nil {
		return nil, errf(http.StatusConflict, CodeConflict, "Team already exists for group %s.", id)
	}
	return g, nil
}

var teamSettableProps = map[string]propKind{
	"memberSettings": kObject, "guestSettings": kObject, "messagingSettings": kObject,
	"funSettings": kObject, "discoverySettings": kObject, "description": kString,
	"displayName": kString, "visibility": kString, "specialization": kString, "classification": kString,
	"members": kObjects, "channels": kObjects, "installedApps": kObjects, "firstChannelName": kString,
}

// putGroupTeam is PUT /groups/{id}/team: synchronous, 201 with the team.
func (s *Server) putGroupTeam(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	body := map[string]any{}
	if len(strings.TrimSpace(string(r.body))) > 0 {
		b, err := decodeObject(r)
		if err != nil {
			return nil, err
		}
		body = b
	}
	if err := checkTypes(body, "team", teamSettableProps); err != nil {
		return nil, err
	}
	g, err := s.teamable(t, v[0])
	if err != nil {
		return nil, err
	}
	g.team = &team{created: s.now(), props: map[string]any{}}
	for k, val := range body {
		if !strings.Contains(k, "@") {
			g.team.props[k] = val
		}
	}
	g.props["resourceProvisioningOptions"] = []any{"Team"}
	t.touch(objGroup, &g.meta)
	out := s.teamView(g)
	out["@odata.context"] = r.baseURL + "/$metadata#teams/$entity"
	return jsonResponse(http.StatusCreated, out), nil
}

var templateRE = regexp.MustCompile(`teamsTemplates\('([^']+)'\)`)

// createTeam is POST /teams: 202 Accepted with a Location to poll
// (graph.md §5).
func (s *Server) createTeam(r *request) (*response, *apiError) {
	t := r.tenant
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	tb := map[string]any{}
	for k, val := range body {
		if k != "template@odata.bind" && k != "group@odata.bind" && k != "@odata.type" {
			tb[k] = val
		}
	}
	if err := checkTypes(tb, "team", teamSettableProps); err != nil {
		return nil, err
	}
	m := templateRE.FindStringSubmatch(str(body["template@odata.bind"]))
	if m == nil {
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "A template is required: set template@odata.bind to a teamsTemplates('...') URL.")
	}
	tmpl := m[1]
	switch tmpl {
	case "standard", "educationClass", "educationStaff", "educationProfessionalLearningCommunity":
	default:
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "Template '%s' was not found.", tmpl)
	}
	var g *group
	if gb, ok := body["group@odata.bind"].(string); ok {
		// Properties inherited from the group may not be given (graph.md §5).
		for _, k := range []string{"displayName", "visibility", "specialization", "members", "members@odata.bind"} {
			if _, ok := body[k]; ok {
				return nil, errf(http.StatusBadRequest, CodeBadRequest, "Property '%s' cannot be set when creating a team from a group; it is inherited from the group.", k)
			}
		}
		id, ok := refID(gb)
		if !ok {
			return nil, badRef(gb)
		}
		g, err = s.teamable(t, id)
		if err != nil {
			return nil, err
		}
		if tmpl == "educationClass" && g.class == nil {
			return nil, notAClass(g.id)
		}
	} else {
		g, err = s.teamWithNewGroup(t, body, tmpl)
		if err != nil {
			return nil, err
		}
		if tmpl == "educationClass" {
			// A class team made without a group (team-post.md example 6)
			// makes its group a class, as a teacher's class team made in
			// the Teams client is.
			g.class = map[string]any{"externalSource": "manual"}
		}
	}
	ready := s.now().Add(s.scaled(s.opts.TeamProvisioningDelay))
	op := s.newOperation(t, g.id, "createTeam", ready)
	if op.fail != nil {
		// Accepted like any other; the operation ends failed and nothing
		// about the group changes.
		g.team = &team{created: ready, failed: true, props: map[string]any{}}
		return accepted(g.id, op), nil
	}
	g.team = &team{created: ready, props: map[string]any{}}
	for k, val := range tb {
		if k != "members" && k != "displayName" && k != "description" && k != "visibility" {
			g.team.props[k] = val
		}
	}
	if strings.HasPrefix(tmpl, "education") {
		g.team.props["specialization"] = tmpl
	}
	if tmpl == "educationClass" {
		// "Team visibility set to HiddenMembership (can't be overridden)".
		g.props["visibility"] = "HiddenMembership"
	}
	g.props["resourceProvisioningOptions"] = []any{"Team"}
	t.touch(objGroup, &g.meta)
	return accepted(g.id, op), nil
}

// teamWithNewGroup creates the Microsoft 365 group behind a POST /teams
// without group@odata.bind; app-only creation needs an owner in members.
func (s *Server) teamWithNewGroup(t *tenant, body map[string]any, tmpl string) (*group, *apiError) {
	name := str(body["displayName"])
	if name == "" {
		return nil, requiredMissing("displayName")
	}
	var owners []any
	members, _ := body["members"].([]any)
	for _, m := range members {
		mm := m.(map[string]any)
		if !contains(strSlice(mm["roles"]), "owner") {
			continue
		}
		id, ok := refID(str(mm["user@odata.bind"]))
		if !ok {
			return nil, badRef(str(mm["user@odata.bind"]))
		}
		owners = append(owners, "https://graph.microsoft.com/v1.0/users/"+id)
	}
	if len(owners) == 0 {
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "An owner is required to create a team in application context: add a member with roles [\"owner\"].")
	}
	nick := strings.Map(func(r rune) rune {
		if r < 128 && (r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return r
		}
		return -1
	}, name)
	if nick == "" {
		nick = "team"
	}
	nick += strings.ReplaceAll(s.ids.guid()[:8], "-", "")
	visibility := body["visibility"]
	if visibility == nil {
		visibility = "Public"
	}
	gb := map[string]any{
		"displayName": name, "mailNickname": nick, "mailEnabled": true, "securityEnabled": false,
		"groupTypes": []any{"Unified"}, "visibility": visibility, "owners@odata.bind": owners,
	}
	if d, ok := body["description"]; ok {
		gb["description"] = d
	}
	return s.newGroup(t, gb)
}

func accepted(teamID string, op *asyncOp) *response {
	resp := &response{status: http.StatusAccepted, header: http.Header{}}
	resp.header.Set("Location", "/teams('"+teamID+"')/operations('"+op.id+"')")
	resp.header.Set("Content-Location", "/teams('"+teamID+"')")
	resp.header.Set("Content-Length", "0")
	return resp
}

// settle applies an archive or unarchive whose operation has finished
// (and drops one that failed).
func (s *Server) settle(tm *team) {
	if tm != nil && tm.pending != nil && !s.now().Before(tm.pending.at) {
		if !tm.pending.failed {
			tm.archived = tm.pending.archived
		}
		tm.pending = nil
	}
}

// newOperation records an accepted teamsAsyncOperation that finishes at
// done. It is notStarted for the first quarter of its run (queued; the
// teamsAsyncOperationStatus enum has notStarted, inProgress, succeeded,
// failed), and Faults.TeamOperation decides whether it fails.
func (s *Server) newOperation(t *tenant, teamID, opType string, done time.Time) *asyncOp {
	now := s.now()
	op := &asyncOp{id: s.ids.guid(), teamID: teamID, opType: opType, created: now, done: done}
	op.started = now
	if done.After(now) {
		op.started = now.Add(done.Sub(now) / 4)
	}
	if f := s.opts.Faults; f != nil && f.TeamOperation != nil {
		attempt := 1
		for _, o := range t.ops {
			if o.teamID == teamID && o.opType == opType {
				attempt++
			}
		}
		op.fail = f.TeamOperation(FaultOperation{TenantID: t.id, TeamID: teamID, OperationType: opType, Attempt: attempt})
	}
	t.ops[op.id] = op
	return op
}

// getTeamOperation is the teamsAsyncOperation a 202 pointed at.
func (s *Server) getTeamOperation(r *request, v []string) (*response, *apiError) {
	op := r.tenant.ops[strings.ToLower(v[1])]
	if op == nil || !strings.EqualFold(op.teamID, v[0]) {
		return nil, errf(http.StatusNotFound, CodeNotFound, "Operation %s was not found for team %s.", v[1], v[0])
	}
	now := s.now()
	status, last := "notStarted", op.created
	var opErr any
	switch {
	case !now.Before(op.done) && op.fail != nil:
		status, last = "failed", op.done
		opErr = map[string]any{"code": op.fail.Code, "message": op.fail.Message}
	case !now.Before(op.done):
		status, last = "succeeded", op.done
	case !now.Before(op.started):
		status, last = "inProgress", op.started
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"@odata.context":         r.baseURL + "/$metadata#teams('" + op.teamID + "')/operations/$entity",
		"id":                     op.id,
		"operationType":          op.opType,
		"createdDateTime":        graphTime(op.created),
		"status":                 status,
		"lastActionDateTime":     graphTime(last),
		"attemptsCount":          1,
		"targetResourceId":       op.teamID,
		"targetResourceLocation": "/teams('" + op.teamID + "')",
		"error":                  opErr,
	}), nil
}

func (s *Server) getTeam(r *request, v []string) (*response, *apiError) {
	g := r.tenant.findGroup(v[0])
	if !s.teamReady(g) {
		return nil, teamNotFound(v[0])
	}
	out := s.teamView(g)
	out["@odata.context"] = r.baseURL + "/$metadata#teams/$entity"
	return jsonResponse(http.StatusOK, out), nil
}

// listTeamMembers is GET /teams/{id}/members: the team's roster is the
// group's members, owners among them with roles ["owner"]. An owner who is
// not also a member is left off: group-post-owners.md says an owner "also
// needs to be added as a group/team member" to act in the team, and
// educationclass.md that "teachers must be members of both the teachers and
// members collections" for Office experiences to work. Graph accepts such
// an owner without complaint; this is where a client that forgot shows.
func (s *Server) listTeamMembers(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g := t.findGroup(v[0])
	if !s.teamReady(g) {
		return nil, teamNotFound(v[0])
	}
	owners := s.seenRefs(t, g, "owners")
	items := []map[string]any{}
	for _, id := range sortStrings(s.seenRefs(t, g, "members")) {
		u := t.users[id]
		if u == nil || u.deleted {
			continue
		}
		roles := []any{}
		if contains(owners, id) {
			roles = append(roles, "owner")
		}
		items = append(items, map[string]any{
			"@odata.type":                 "#microsoft.graph.aadUserConversationMember",
			"id":                          base64.StdEncoding.EncodeToString([]byte("1#" + g.id + "##" + id)),
			"roles":                       roles,
			"displayName":                 u.props["displayName"],
			"userId":                      id,
			"email":                       u.props["mail"],
			"tenantId":                    t.id,
			"visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
		})
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"@odata.context": r.baseURL + "/$metadata#teams('" + g.id + "')/members",
		"@odata.count":   len(items),
		"value":          items,
	}), nil
}

func (s *Server) patchTeam(r *request, v []string) (*response, *apiError) {
	g := r.tenant.findGroup(v[0])
	if !s.teamReady(g) {
		return nil, teamNotFound(v[0])
	}
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(body, "team", teamSettableProps); err != nil {
		return nil, err
	}
	for k, val := range body {
		switch k {
		case "displayName", "description", "visibility":
			g.props[k] = val
		default:
			if !strings.Contains(k, "@") {
				g.team.props[k] = val
			}
		}
	}
	return noContent(), nil
}

// archiveTeam is POST /teams/{id}/archive or /unarchive: 202 and an
// operation; the team's state changes when the operation completes.
func (s *Server) archiveTeam(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g := t.findGroup(v[0])
	if !s.teamReady(g) {
		return nil, teamNotFound(v[0])
	}
	archive := v[1] == "archive"
	if len(strings.TrimSpace(string(r.body))) > 0 {
		body, err := decodeObject(r)
		if err != nil {
			return nil, err
		}
		if err := checkTypes(body, "team.archive", map[string]propKind{"shouldSetSpoSiteReadOnlyForMembers": kBool}); err != nil {
			return nil, err
		}
		if body["shouldSetSpoSiteReadOnlyForMembers"] == true {
			// Not supported in application context (graph.md §5), and every
			// simulator token is an application token.
			return nil, errf(http.StatusBadRequest, CodeBadRequest, "shouldSetSpoSiteReadOnlyForMembers is not supported in application context.")
		}
	}
	opType := "archiveTeam"
	if !archive {
		opType = "unarchiveTeam"
	}
	done := s.now().Add(s.scaled(s.opts.TeamProvisioningDelay))
	op := s.newOperation(t, g.id, opType, done)
	g.team.pending = &pendingArchive{at: done, archived: archive, failed: op.fail != nil}
	s.settle(g.team)
	return accepted(g.id, op), nil
}
