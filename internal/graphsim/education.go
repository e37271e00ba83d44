package graphsim

import (
	"net/http"
	"strings"
)

// notEducationTenant is what Graph answers for the rostering API on a
// tenant that is not an education tenant: the directory lacks the
// education schema (microsoftgraph/microsoft-graph-docs#4964, where
// /education/schools also came back empty).
func notEducationTenant() *apiError {
	return errf(http.StatusBadRequest, CodeUnsupportedQuery,
		"Property 'extension_fe2174665583431c953114ff7268b7b3_Education_ObjectType' does not exist as a declared property or extension property.")
}

func eduCost() cost { return cost{family: famEducation, kind: "education"} }
func eduWrite() cost {
	c := eduCost()
	c.write = true
	return c
}

// eduOnly refuses h on a business tenant.
func eduOnly(h handlerFunc) handlerFunc {
	return func(s *Server, r *request) (*response, *apiError) {
		if r.tenant.edition != EditionEducation {
			return nil, notEducationTenant()
		}
		return h(s, r)
	}
}

func (s *Server) resolveEducation(r *request) (*route, *apiError) {
	segs := r.segs
	var v []string
	pick := func(m byMethod) (*route, *apiError) {
		rt, err := m.pick(r.method)
		if err != nil {
			return nil, err
		}
		// GET /education/schools answers an empty list on a business
		// tenant; everything else is refused.
		if !(match(segs, &[]string{}, "education", "schools") && r.method == http.MethodGet) {
			rt.handle = eduOnly(rt.handle)
		}
		return rt, nil
	}
	switch {
	case match(segs, &v, "education", "classes"):
		return pick(byMethod{"GET": {eduCost(), (*Server).listClasses}, "POST": {eduWrite(), (*Server).createClass}})
	case match(segs, &v, "education", "classes", "delta"):
		return pick(byMethod{"GET": {eduCost(), (*Server).classDelta}})
	case match(segs, &v, "education", "schools", "delta"):
		return pick(byMethod{"GET": {eduCost(), (*Server).schoolDelta}})
	case match(segs, &v, "education", "users", "delta"):
		return pick(byMethod{"GET": {eduCost(), (*Server).eduUserDelta}})
	case match(segs, &v, "education", "classes", "*"):
		return pick(byMethod{
			"GET":    {eduCost(), withVars(v, (*Server).getClass)},
			"PATCH":  {eduWrite(), withVars(v, (*Server).patchClass)},
			"DELETE": {eduWrite(), withVars(v, (*Server).deleteClass)},
		})
	case match(segs, &v, "education", "classes", "*", "members"), match(segs, &v, "education", "classes", "*", "teachers"):
		return pick(byMethod{"GET": {eduCost(), withVars(append(v, segs[3]), (*Server).listClassRefs)}})
	case match(segs, &v, "education", "classes", "*", "members", "$ref"), match(segs, &v, "education", "classes", "*", "teachers", "$ref"):
		return pick(byMethod{"POST": {eduWrite(), withVars(append(v, segs[3]), (*Server).addClassRef)}})
	case match(segs, &v, "education", "classes", "*", "members", "*", "$ref"), match(segs, &v, "education", "classes", "*", "teachers", "*", "$ref"):
		return pick(byMethod{"DELETE": {eduWrite(), withVars(append(v, segs[3]), (*Server).removeClassRef)}})
	case match(segs, &v, "education", "classes", "*", "group"):
		return pick(byMethod{"GET": {eduCost(), withVars(v, (*Server).getGroup)}})
	case match(segs, &v, "education", "schools"):
		return pick(byMethod{"GET": {eduCost(), (*Server).listSchools}, "POST": {eduWrite(), (*Server).createSchool}})
	case match(segs, &v, "education", "schools", "*"):
		return pick(byMethod{
			"GET":    {eduCost(), withVars(v, (*Server).getSchool)},
			"PATCH":  {eduWrite(), withVars(v, (*Server).patchSchool)},
			"DELETE": {eduWrite(), withVars(v, (*Server).deleteSchool)},
		})
	case match(segs, &v, "education", "schools", "*", "classes"), match(segs, &v, "education", "schools", "*", "users"):
		return pick(byMethod{"GET": {eduCost(), withVars(append(v, segs[3]), (*Server).listSchoolRefs)}})
	case match(segs, &v, "education", "schools", "*", "classes", "$ref"), match(segs, &v, "education", "schools", "*", "users", "$ref"):
		return pick(byMethod{"POST": {eduWrite(), withVars(append(v, segs[3]), (*Server).addSchoolRef)}})
	case match(segs, &v, "education", "schools", "*", "classes", "*", "$ref"), match(segs, &v, "education", "schools", "*", "users", "*", "$ref"):
		return pick(byMethod{"DELETE": {eduWrite(), withVars(append(v, segs[3]), (*Server).removeSchoolRef)}})
	case match(segs, &v, "education", "users"):
		return pick(byMethod{"GET": {eduCost(), (*Server).listEduUsers}, "POST": {eduWrite(), (*Server).createEduUser}})
	case match(segs, &v, "education", "users", "*"):
		return pick(byMethod{
			"GET":    {eduCost(), withVars(v, (*Server).getEduUser)},
			"PATCH":  {eduWrite(), withVars(v, (*Server).patchEduUser)},
			"DELETE": {eduWrite(), withVars(v, (*Server).deleteUser)},
		})
	case match(segs, &v, "education", "users", "*", "classes"):
		return pick(byMethod{"GET": {eduCost(), withVars(v, (*Server).listEduUserClasses)}})
	}
	return nil, segmentNotFound(segs[len(segs)-1])
}

// --- classes: an educationClass is a Microsoft 365 group with the same id ---

var classProps = map[string]propKind{
	"displayName": kString, "mailNickname": kString, "description": kString, "classCode": kString,
	"externalId": kString, "externalName": kString, "externalSource": kString,
	"externalSourceDetail": kString, "grade": kString, "term": kObject, "course": kObject, "createdBy": kObject,
}

var classSpec = &resourceSpec{typeName: "educationClass", defaultTop: 100, maxTop: 999}

func (s *Server) classView(g *group) map[string]any {
	out := map[string]any{"id": g.id, "displayName": g.props["displayName"], "mailNickname": g.props["mailNickname"], "description": g.props["description"]}
	for k, v := range g.class {
		out[k] = v
	}
	return out
}

func (s *Server) visibleClass(t *tenant, id string) (*group, *apiError) {
	g, err := s.visibleGroup(t, id)
	if err != nil || g.class == nil {
		return nil, notFound(id)
	}
	return g, nil
}

// createClass is POST /education/classes: it creates the class's
// Microsoft 365 group (same id) but no team (graph.md §5).
func (s *Server) createClass(r *request) (*response, *apiError) {
	t := r.tenant
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(body, "educationClass", classProps); err != nil {
		return nil, err
	}
	for _, k := range []string{"displayName", "mailNickname"} {
		if str(body[k]) == "" {
			return nil, requiredMissing(k)
		}
	}
	if src := str(body["externalSource"]); src != "" && src != "sis" && src != "manual" {
		return nil, invalidValue("externalSource", "EducationClass")
	}
	gb := map[string]any{
		"displayName": body["displayName"], "mailNickname": body["mailNickname"], "mailEnabled": true,
		"securityEnabled": false, "groupTypes": []any{"Unified"}, "visibility": "HiddenMembership",
	}
	if d, ok := body["description"]; ok {
		gb["description"] = d
	}
	g, err := s.newGroup(t, gb)
	if err != nil {
		return nil, err
	}
	g.class = map[string]any{}
	for k, val := range body {
		if k != "displayName" && k != "mailNickname" && k != "description" && !strings.Contains(k, "@") {
			g.class[k] = val
		}
	}
	if g.class["externalSource"] == nil {
		g.class["externalSource"] = "manual"
	}
	out := s.classView(g)
	out["@odata.context"] = r.baseURL + "/$metadata#education/classes/$entity"
	return jsonResponse(http.StatusCreated, out), nil
}

func (s *Server) listClasses(r *request) (*response, *apiError) {
	o, err := parseQuery(r, classSpec)
	if err != nil {
		return nil, err
	}
	var items []map[string]any
	var ids []string
	for _, id := range sortedIDs(r.tenant.groups) {
		g := r.tenant.groups[id]
		if g.deleted || g.class == nil || !s.visible(&g.meta) {
			continue
		}
		v := s.classView(g)
		if o.filter != nil && !o.filter.eval(v, nil) {
			continue
		}
		items = append(items, project(v, o.selects, nil))
		ids = append(ids, id)
	}
	return s.page(r, o, items, ids, "education/classes", nil), nil
}

func (s *Server) getClass(r *request, v []string) (*response, *apiError) {
	o, err := parseQuery(r, classSpec)
	if err != nil {
		return nil, err
	}
	g, err := s.visibleClass(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	return jsonResponse(http.StatusOK, project(s.classView(g), o.selects, nil)), nil
}

func (s *Server) patchClass(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g, err := s.visibleClass(t, v[0])
	if err != nil {
		return nil, err
	}
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(body, "educationClass", classProps); err != nil {
		return nil, err
	}
	for k, val := range body {
		switch k {
		case "displayName", "description":
			g.props[k] = val
		case "mailNickname":
			return nil, errf(http.StatusBadRequest, CodeRequestBadRequest, "Property 'mailNickname' is read-only and cannot be set.")
		default:
			if !strings.Contains(k, "@") {
				g.class[k] = val
			}
		}
	}
	t.touch(objGroup, &g.meta)
	return jsonResponse(http.StatusOK, s.classView(g)), nil
}

func (s *Server) deleteClass(r *request, v []string) (*response, *apiError) {
	g, err := s.visibleClass(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	s.removeGroup(r.tenant, g)
	return noContent(), nil
}

// classRel maps the class relation to the group relation: students are
// members, teachers are owners (graph.md §5).
func classRel(rel string) string {
	if rel == "teachers" {
		return "owners"
	}
	return "members"
}

func (s *Server) listClassRefs(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g, err := s.visibleClass(t, v[0])
	if err != nil {
		return nil, err
	}
	o, err := parseQuery(r, eduUserSpec)
	if err != nil {
		return nil, err
	}
	ids := sortStrings(s.seenRefs(t, g, classRel(v[1])))
	var items []map[string]any
	var kept []string
	for _, id := range ids {
		if u := t.users[id]; u != nil && !u.deleted {
			items = append(items, project(eduUserView(u), o.selects, nil))
			kept = append(kept, id)
		}
	}
	return s.page(r, o, items, kept, "education/users", nil), nil
}

func (s *Server) addClassRef(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	g, err := s.visibleClass(t, v[0])
	if err != nil {
		return nil, err
	}
	id, err := classRefFromBody(r, v[1])
	if err != nil {
		return nil, err
	}
	if u := t.users[id]; u == nil || u.deleted {
		return nil, notFound(id)
	}
	rel := classRel(v[1])
	if err := s.checkRefs(t, g, true, rel, []string{id}); err != nil {
		if err.message == refAlreadyExists(rel).message {
			return nil, refAlreadyExists(v[1])
		}
		return nil, err
	}
	s.addRefs(t, g, rel, []string{id})
	return noContent(), nil
}

// classRefFromBody reads a class members/teachers $ref body. Both pages
// (educationclass-post-members.md, educationclass-post-teachers.md) give
// the reference as https://graph.microsoft.com/v1.0/education/users/{id};
// another entity set (users/{id}, directoryObjects/{id}) is refused. Graph's
// wording for that refusal is not documented; this one names the form.
func classRefFromBody(r *request, rel string) (string, *apiError) {
	body, err := decodeObject(r)
	if err != nil {
		return "", err
	}
	ref, ok := body["@odata.id"].(string)
	if !ok {
		return "", errf(http.StatusBadRequest, CodeBadRequest, "The request payload must contain '@odata.id'.")
	}
	id, ok := refID(ref)
	if !ok {
		return "", badRef(ref)
	}
	path := ref
	if i := strings.Index(path, "?"); i >= 0 {
		path = path[:i]
	}
	segs := splitPath(path)
	if n := len(segs); n < 3 || !strings.EqualFold(segs[n-3], "education") || !strings.EqualFold(segs[n-2], "users") {
		return "", errf(http.StatusBadRequest, CodeBadRequest,
			"Invalid reference '%s' for '%s': a class takes education users, https://graph.microsoft.com/v1.0/education/users/{id}.", ref, rel)
	}
	return id, nil
}

func (s *Server) removeClassRef(r *request, v []string) (*response, *apiError) {
	g, err := s.visibleClass(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	return s.removeGroupRef(r, []string{g.id, v[1], classRel(v[2])})
}

// --- schools ---

var schoolProps = map[string]propKind{
	"displayName": kString, "description": kString, "externalId": kString, "externalSource": kString,
	"externalSourceDetail": kString, "schoolNumber": kString, "principalEmail": kString,
	"principalName": kString, "externalPrincipalId": kString, "lowestGrade": kString,
	"highestGrade": kString, "phone": kString, "fax": kString, "address": kObject, "createdBy": kObject,
}

func (s *Server) visibleSchool(t *tenant, id string) (*school, *apiError) {
	sc := t.schools[strings.ToLower(id)]
	if sc == nil || sc.deleted || !s.visible(&sc.meta) {
		return nil, notFound(id)
	}
	return sc, nil
}

func (s *Server) createSchool(r *request) (*response, *apiError) {
	t := r.tenant
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(body, "educationSchool", schoolProps); err != nil {
		return nil, err
	}
	if str(body["displayName"]) == "" {
		return nil, requiredMissing("displayName")
	}
	id := s.ids.guid()
	p := map[string]any{"id": id}
	for k, val := range body {
		if !strings.Contains(k, "@") {
			p[k] = val
		}
	}
	sc := &school{meta: s.stamp(t, objSchool, id), props: p}
	t.schools[id] = sc
	return jsonResponse(http.StatusCreated, cloneMap(p)), nil
}

func (s *Server) listSchools(r *request) (*response, *apiError) {
	o, err := parseQuery(r, classSpec)
	if err != nil {
		return nil, err
	}
	var items []map[string]any
	var ids []string
	if r.tenant.edition == EditionEducation {
		for _, id := range sortedIDs(r.tenant.schools) {
			sc := r.tenant.schools[id]
			if sc.deleted || !s.visible(&sc.meta) || (o.filter != nil && !o.filter.eval(sc.props, nil)) {
				continue
			}
			items = append(items, project(sc.props, o.selects, nil))
			ids = append(ids, id)
		}
	}
	return s.page(r, o, items, ids, "education/schools", nil), nil
}

func (s *Server) getSchool(r *request, v []string) (*response, *apiError) {
	sc, err := s.visibleSchool(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	return jsonResponse(http.StatusOK, cloneMap(sc.props)), nil
}

func (s *Server) patchSchool(r *request, v []string) (*response, *apiError) {
	sc, err := s.visibleSchool(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(body, "educationSchool", schoolProps); err != nil {
		return nil, err
	}
	for k, val := range body {
		if !strings.Contains(k, "@") {
			sc.props[k] = val
		}
	}
	r.tenant.touch(objSchool, &sc.meta)
	return jsonResponse(http.StatusOK, cloneMap(sc.props)), nil
}

func (s *Server) deleteSchool(r *request, v []string) (*response, *apiError) {
	sc, err := s.visibleSchool(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	sc.deleted = true
	sc.removedReason = "deleted"
	r.tenant.touch(objSchool, &sc.meta)
	return noContent(), nil
}

func (sc *school) refs(rel string) *[]string {
	if rel == "classes" {
		return &sc.classes
	}
	return &sc.users
}

func (s *Server) listSchoolRefs(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	sc, err := s.visibleSchool(t, v[0])
	if err != nil {
		return nil, err
	}
	o, err := parseQuery(r, classSpec)
	if err != nil {
		return nil, err
	}
	var items []map[string]any
	var ids []string
	for _, id := range sortStrings(*sc.refs(v[1])) {
		if v[1] == "classes" {
			if g := t.findGroup(id); g != nil && g.class != nil {
				items = append(items, project(s.classView(g), o.selects, nil))
				ids = append(ids, id)
			}
		} else if u := t.users[id]; u != nil && !u.deleted {
			items = append(items, project(eduUserView(u), o.selects, nil))
			ids = append(ids, id)
		}
	}
	return s.page(r, o, items, ids, "education/"+v[1], nil), nil
}

func (s *Server) addSchoolRef(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	sc, err := s.visibleSchool(t, v[0])
	if err != nil {
		return nil, err
	}
	id, err := refFromBody(r)
	if err != nil {
		return nil, err
	}
	rel := v[1]
	if rel == "classes" {
		g := t.findGroup(id)
		if g == nil || g.class == nil {
			return nil, notFound(id)
		}
		if !s.visible(&g.meta) {
			return nil, badRequest("Not a valid reference update.")
		}
	} else {
		u := t.users[id]
		if u == nil || u.deleted {
			return nil, notFound(id)
		}
		if !s.visible(&u.meta) {
			return nil, badRequest("Not a valid reference update.")
		}
	}
	list := sc.refs(rel)
	if contains(*list, id) {
		return nil, refAlreadyExists(rel)
	}
	*list = append(*list, id)
	t.touch(objSchool, &sc.meta)
	return noContent(), nil
}

func (s *Server) removeSchoolRef(r *request, v []string) (*response, *apiError) {
	sc, err := s.visibleSchool(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	id, rel := strings.ToLower(v[1]), v[2]
	list := sc.refs(rel)
	if !contains(*list, id) {
		return nil, notFound(id)
	}
	*list = remove(*list, id)
	r.tenant.touch(objSchool, &sc.meta)
	return noContent(), nil
}

// --- education users: a user with educationUser extras, same id ---

var eduUserExtras = map[string]propKind{
	"primaryRole": kString, "student": kObject, "teacher": kObject, "externalSource": kString,
	"externalSourceDetail": kString, "middleName": kString, "residenceAddress": kObject,
	"mailingAddress": kObject, "relatedContacts": kObjects, "createdBy": kObject,
	"onPremisesInfo": kObject, "department": kString,
}

var eduUserSpec = &resourceSpec{typeName: "educationUser", defaultTop: 100, maxTop: 999}

func eduUserView(u *user) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"id", "displayName", "givenName", "surname", "userPrincipalName", "mailNickname", "mail",
		"accountEnabled", "usageLocation", "assignedLicenses", "businessPhones", "department", "createdDateTime", "showInAddressList"} {
		out[k] = u.props[k]
	}
	out["primaryRole"] = "none"
	out["externalSource"] = nil
	for k, v := range u.edu {
		out[k] = v
	}
	return out
}

func (s *Server) createEduUser(r *request) (*response, *apiError) {
	t := r.tenant
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	edu := map[string]any{}
	userBody := map[string]any{}
	for k, val := range body {
		if _, ok := eduUserExtras[k]; ok && k != "department" {
			edu[k] = val
			continue
		}
		if k != "@odata.type" {
			userBody[k] = val
		}
	}
	if err := checkTypes(edu, "educationUser", eduUserExtras); err != nil {
		return nil, err
	}
	if role := str(edu["primaryRole"]); role != "" && role != "student" && role != "teacher" && role != "none" && role != "faculty" {
		return nil, invalidValue("primaryRole", "EducationUser")
	}
	// usageLocation is required here, unlike POST /users (graph.md §5).
	if str(userBody["usageLocation"]) == "" {
		return nil, requiredMissing("usageLocation")
	}
	u, err := s.newUser(t, userBody)
	if err != nil {
		return nil, err
	}
	u.edu = edu
	out := eduUserView(u)
	out["@odata.context"] = r.baseURL + "/$metadata#education/users/$entity"
	return jsonResponse(http.StatusCreated, out), nil
}

func (s *Server) listEduUsers(r *request) (*response, *apiError) {
	o, err := parseQuery(r, eduUserSpec)
	if err != nil {
		return nil, err
	}
	var items []map[string]any
	var ids []string
	for _, id := range sortedIDs(r.tenant.users) {
		u := r.tenant.users[id]
		if u.deleted || !s.visible(&u.meta) {
			continue
		}
		v := eduUserView(u)
		if o.filter != nil && !o.filter.eval(v, nil) {
			continue
		}
		items = append(items, project(v, o.selects, nil))
		ids = append(ids, id)
	}
	return s.page(r, o, items, ids, "education/users", nil), nil
}

func (s *Server) getEduUser(r *request, v []string) (*response, *apiError) {
	o, err := parseQuery(r, eduUserSpec)
	if err != nil {
		return nil, err
	}
	u, err := s.visibleUser(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	return jsonResponse(http.StatusOK, project(eduUserView(u), o.selects, nil)), nil
}

func (s *Server) patchEduUser(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.visibleUser(t, v[0])
	if err != nil {
		return nil, err
	}
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	edu := map[string]any{}
	userBody := map[string]any{}
	for k, val := range body {
		if _, ok := eduUserExtras[k]; ok && k != "department" {
			edu[k] = val
		} else if k != "@odata.type" {
			userBody[k] = val
		}
	}
	if err := checkTypes(edu, "educationUser", eduUserExtras); err != nil {
		return nil, err
	}
	if err := s.validateUser(t, userBody, false, u.id); err != nil {
		return nil, err
	}
	for k, val := range userBody {
		u.props[k] = val
	}
	if u.edu == nil {
		u.edu = map[string]any{}
	}
	for k, val := range edu {
		u.edu[k] = val
	}
	t.touch(objUser, &u.meta)
	return jsonResponse(http.StatusOK, eduUserView(u)), nil
}

func (s *Server) listEduUserClasses(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.visibleUser(t, v[0])
	if err != nil {
		return nil, err
	}
	o, err := parseQuery(r, classSpec)
	if err != nil {
		return nil, err
	}
	var items []map[string]any
	var ids []string
	for _, id := range sortedIDs(t.groups) {
		g := t.groups[id]
		if g.deleted || g.class == nil || !(contains(s.seenRefs(t, g, "members"), u.id) || contains(s.seenRefs(t, g, "owners"), u.id)) {
			continue
		}
		items = append(items, project(s.classView(g), o.selects, nil))
		ids = append(ids, id)
	}
	return s.page(r, o, items, ids, "education/classes", nil), nil
}
