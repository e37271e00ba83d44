package graphsim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// family is the throttling service a request is judged by (graph.md §1).
type family int

const (
	famIdentity  family = iota // Entra directory: users, groups, organization...
	famEducation               // education rostering
	famTeams                   // Teams team creation and team operations
	famOutlook                 // events, per mailbox
)

// cost is what a request charges against the throttling buckets.
type cost struct {
	family family
	// ru is the identity base cost before query modifiers (graph.md §1.2).
	ru    int
	write bool
	// teamsOp names the Teams limit row, e.g. "POST /teams".
	teamsOp string
	// teamID is the team for Teams per-resource limits.
	teamID string
	// mailbox is the user id for Outlook per-mailbox limits.
	mailbox string
	// kind is the resource kind counted in Stats.
	kind string
}

type handlerFunc func(s *Server, r *request) (*response, *apiError)

type route struct {
	cost   cost
	handle handlerFunc
}

// splitPath normalises a Graph path: "teams('a')/operations('b')" and
// "teams/a/operations/b" give the same segments, "delta()" becomes "delta",
// and a "microsoft.graph." action prefix is dropped.
func splitPath(p string) []string {
	var out []string
	for _, part := range strings.Split(p, "/") {
		if part == "" {
			continue
		}
		if i := strings.IndexByte(part, '('); i > 0 && strings.HasSuffix(part, ")") {
			name, key := part[:i], strings.Trim(part[i+1:len(part)-1], "'")
			out = append(out, strings.TrimPrefix(name, "microsoft.graph."))
			if key != "" {
				if k, err := url.PathUnescape(key); err == nil {
					key = k
				}
				out = append(out, key)
			}
			continue
		}
		out = append(out, strings.TrimPrefix(part, "microsoft.graph."))
	}
	return out
}

// match reports whether segs has pattern's shape; "*" matches any one
// segment and is captured into vars in order.
func match(segs []string, vars *[]string, pattern ...string) bool {
	if len(segs) != len(pattern) {
		return false
	}
	var got []string
	for i, p := range pattern {
		if p == "*" {
			got = append(got, segs[i])
			continue
		}
		if !strings.EqualFold(p, segs[i]) {
			return false
		}
	}
	*vars = got
	return true
}

func methodNotAllowed() *apiError {
	return errf(http.StatusMethodNotAllowed, CodeRequestBadRequest, "Specified HTTP method is not allowed for the request target.")
}

func segmentNotFound(seg string) *apiError {
	return errf(http.StatusBadRequest, CodeBadRequest, "Resource not found for the segment '%s'.", seg)
}

// byMethod picks the route for r.method.
type byMethod map[string]route

func (m byMethod) pick(method string) (*route, *apiError) {
	rt, ok := m[method]
	if !ok {
		return nil, methodNotAllowed()
	}
	return &rt, nil
}

func idRead(kind string, ru int) cost { return cost{family: famIdentity, ru: ru, kind: kind} }
func idWrite(kind string) cost        { return cost{family: famIdentity, ru: 1, write: true, kind: kind} }

// resolve finds the route for a request.
func (s *Server) resolve(r *request) (*route, *apiError) {
	segs := r.segs
	var v []string
	if len(segs) == 0 {
		return nil, segmentNotFound("v1.0")
	}
	switch strings.ToLower(segs[0]) {
	case "users":
		switch {
		case match(segs, &v, "users"):
			return byMethod{
				"GET":  {idRead("users", 2), (*Server).listUsers},
				"POST": {idWrite("users"), (*Server).createUser},
			}.pick(r.method)
		case match(segs, &v, "users", "delta"):
			return byMethod{"GET": {idRead("users", 1), (*Server).userDelta}}.pick(r.method)
		case match(segs, &v, "users", "$count"):
			return byMethod{"GET": {idRead("users", 1), (*Server).countUsers}}.pick(r.method)
		case match(segs, &v, "users", "*"):
			return byMethod{
				"GET":    {idRead("users", 1), withVars(v, (*Server).getUser)},
				"PATCH":  {idWrite("users"), withVars(v, (*Server).patchUser)},
				"DELETE": {idWrite("users"), withVars(v, (*Server).deleteUser)},
			}.pick(r.method)
		case match(segs, &v, "users", "*", "assignLicense"):
			return byMethod{"POST": {idWrite("users"), withVars(v, (*Server).assignLicense)}}.pick(r.method)
		case match(segs, &v, "users", "*", "revokeSignInSessions"):
			return byMethod{"POST": {idWrite("users"), withVars(v, (*Server).revokeSessions)}}.pick(r.method)
		case match(segs, &v, "users", "*", "sendMail"):
			return byMethod{"POST": {cost{family: famOutlook, mailbox: strings.ToLower(v[0]), write: true, kind: "sendMail"}, withVars(v, (*Server).sendMail)}}.pick(r.method)
		case match(segs, &v, "users", "*", "memberOf"):
			return byMethod{"GET": {idRead("users", 2), withVars(v, (*Server).userMemberOf)}}.pick(r.method)
		case match(segs, &v, "users", "*", "events"), match(segs, &v, "users", "*", "calendar", "events"):
			c := cost{family: famOutlook, mailbox: strings.ToLower(v[0]), kind: "events"}
			w := c
			w.write = true
			return byMethod{
				"GET":  {c, withVars(v, (*Server).listEvents)},
				"POST": {w, withVars(v, (*Server).createEvent)},
			}.pick(r.method)
		case match(segs, &v, "users", "*", "events", "*"), match(segs, &v, "users", "*", "calendar", "events", "*"):
			c := cost{family: famOutlook, mailbox: strings.ToLower(v[0]), kind: "events"}
			w := c
			w.write = true
			return byMethod{
				"GET":    {c, withVars(v, (*Server).getEvent)},
				"PATCH":  {w, withVars(v, (*Server).patchEvent)},
				"DELETE": {w, withVars(v, (*Server).deleteEvent)},
			}.pick(r.method)
		case match(segs, &v, "users", "*", "calendarView"), match(segs, &v, "users", "*", "calendar", "calendarView"):
			c := cost{family: famOutlook, mailbox: strings.ToLower(v[0]), kind: "events"}
			return byMethod{"GET": {c, withVars(v, (*Server).calendarView)}}.pick(r.method)
		}
	case "groups":
		switch {
		case match(segs, &v, "groups"):
			return byMethod{
				"GET":  {idRead("groups", 1), (*Server).listGroups},
				"POST": {idWrite("groups"), (*Server).createGroup},
			}.pick(r.method)
		case match(segs, &v, "groups", "delta"):
			return byMethod{"GET": {idRead("groups", 1), (*Server).groupDelta}}.pick(r.method)
		case match(segs, &v, "groups", "$count"):
			return byMethod{"GET": {idRead("groups", 1), (*Server).countGroups}}.pick(r.method)
		case match(segs, &v, "groups", "*"):
			return byMethod{
				"GET":    {idRead("groups", 1), withVars(v, (*Server).getGroup)},
				"PATCH":  {idWrite("groups"), withVars(v, (*Server).patchGroup)},
				"DELETE": {idWrite("groups"), withVars(v, (*Server).deleteGroup)},
			}.pick(r.method)
		case match(segs, &v, "groups", "*", "members"), match(segs, &v, "groups", "*", "owners"):
			rel := strings.ToLower(segs[2])
			return byMethod{"GET": {idRead("groups", 3), withVars(append(v, rel), (*Server).listGroupRefs)}}.pick(r.method)
		case match(segs, &v, "groups", "*", "members", "$ref"), match(segs, &v, "groups", "*", "owners", "$ref"):
			rel := strings.ToLower(segs[2])
			return byMethod{"POST": {idWrite("groups"), withVars(append(v, rel), (*Server).addGroupRef)}}.pick(r.method)
		case match(segs, &v, "groups", "*", "members", "*", "$ref"), match(segs, &v, "groups", "*", "owners", "*", "$ref"):
			rel := strings.ToLower(segs[2])
			return byMethod{"DELETE": {idWrite("groups"), withVars(append(v, rel), (*Server).removeGroupRef)}}.pick(r.method)
		case match(segs, &v, "groups", "*", "team"):
			return byMethod{
				"PUT": {cost{family: famTeams, write: true, teamsOp: "PUT /groups/{id}/team", kind: "teams"}, withVars(v, (*Server).putGroupTeam)},
				"GET": {cost{family: famTeams, teamsOp: "GET /teams/{id}", teamID: strings.ToLower(v[0]), kind: "teams"}, withVars(v, (*Server).getTeam)},
			}.pick(r.method)
		}
	case "subscribedskus":
		if match(segs, &v, "subscribedSkus") {
			return byMethod{"GET": {idRead("directory", 3), (*Server).listSkus}}.pick(r.method)
		}
	case "domains":
		switch {
		case match(segs, &v, "domains"):
			return byMethod{"GET": {idRead("directory", 1), (*Server).listDomains}}.pick(r.method)
		case match(segs, &v, "domains", "*"):
			return byMethod{"GET": {idRead("directory", 1), withVars(v, (*Server).getDomain)}}.pick(r.method)
		}
	case "organization":
		switch {
		case match(segs, &v, "organization"):
			return byMethod{"GET": {idRead("directory", 1), (*Server).listOrganization}}.pick(r.method)
		case match(segs, &v, "organization", "*"):
			return byMethod{"GET": {idRead("directory", 1), withVars(v, (*Server).getOrganization)}}.pick(r.method)
		}
	case "directoryobjects":
		if match(segs, &v, "directoryObjects", "*") {
			return byMethod{"GET": {idRead("directory", 1), withVars(v, (*Server).getDirectoryObject)}}.pick(r.method)
		}
	case "education":
		return s.resolveEducation(r)
	case "teams":
		return s.resolveTeams(r)
	}
	return nil, segmentNotFound(segs[len(segs)-1])
}

func withVars(v []string, h func(*Server, *request, []string) (*response, *apiError)) handlerFunc {
	return func(s *Server, r *request) (*response, *apiError) { return h(s, r, v) }
}

// dispatch runs one request (top-level or a $batch item): route, fault,
// throttle, handler, response headers.
func (s *Server) dispatch(r *request) *response {
	r.segs = splitPath(r.path)
	rt, aerr := s.resolve(r)
	if aerr != nil {
		return s.errorResponse(aerr, r.reqID, r.cliID)
	}
	t := r.tenant
	if f := s.opts.Faults; f != nil && f.Request != nil {
		if fault := f.Request(FaultRequest{TenantID: t.id, Method: r.method, Path: r.path, RetryAttempt: r.header.Get("Retry-Attempt"), InBatch: r.inBatch}); fault != nil {
			e := errf(fault.Status, fault.Code, "%s", fault.Message)
			e.header = fault.Header
			return s.errorResponse(e, r.reqID, r.cliID)
		}
	}
	c := rt.cost
	if c.family == famOutlook {
		// A mailbox is one mailbox whether addressed by id or UPN.
		t.mu.Lock()
		if u := t.findUser(c.mailbox); u != nil {
			c.mailbox = u.id
		}
		t.mu.Unlock()
	}
	ru := requestUnits(c, r.query)
	v := s.throttle.admit(r, c, ru)
	t.stats.record(r.method, c, ru, v.throttled)
	if v.throttled {
		return s.errorResponse(v.err, r.reqID, r.cliID)
	}
	defer v.release()

	resp, aerr := s.locked(t, rt.handle, r)
	if aerr != nil {
		resp = s.errorResponse(aerr, r.reqID, r.cliID)
	}
	if c.family == famIdentity {
		resp.header.Set("x-ms-resource-unit", strconv.Itoa(ru))
	}
	if v.percentage >= 0.8 {
		resp.header.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(v.percentage, 'f', 1, 64))
	}
	class := "read"
	if r.method != http.MethodGet {
		class = "write"
	}
	if r.inBatch {
		resp.header.Set("x-graphsim-latency-class", class)
		return resp
	}
	// Hold the request (and its Outlook concurrency slot) for the modelled
	// latency, as a slow Graph would.
	s.sleepLatency(r.ctx, class)
	return resp
}

// locked runs h under the tenant lock, releasing it even if h panics (the
// panic is answered with a 500 by ServeHTTP; a held lock would hang every
// later request for the tenant).
//
// It is also the one place every write passes with the tenant's state in
// hand: when the server persists, what the write changed is appended to
// the write log here, before the answer leaves.
func (s *Server) locked(t *tenant, h handlerFunc, r *request) (*response, *apiError) {
	if r.method == http.MethodGet || s.journal.Load() == nil {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.beginRequest()
		return h(s, r)
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.beginRequest()
	since := t.seq
	resp, aerr := h(s, r)
	if j := s.journal.Load(); j != nil {
		if err := s.persistWrite(j, t, r, since, aerr == nil); err != nil {
			return nil, persistFailed(err)
		}
	}
	return resp, aerr
}

// requestUnits applies graph.md §1.2's query modifiers to the base cost.
func requestUnits(c cost, q url.Values) int {
	if c.family != famIdentity {
		return 0
	}
	ru := c.ru
	if q.Get("$select") != "" {
		ru--
	}
	if q.Get("$expand") != "" {
		ru++
	}
	if top, err := strconv.Atoi(q.Get("$top")); err == nil && top < 20 {
		ru--
	}
	if ru < 1 {
		ru = 1
	}
	return ru
}

// graphTime formats t as Graph's DateTimeOffset.
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
