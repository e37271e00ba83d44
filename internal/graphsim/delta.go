package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

// deltaToken is the opaque state of a delta round: changes after since,
// the round's high-water mark, and the last id of the previous page.
type deltaToken struct {
	Since uint64 `json:"s"`
	High  uint64 `json:"h"`
	After string `json:"a,omitempty"`
	// Issued is when the round's deltaLink was made (Unix ms, clock time);
	// directory delta tokens last 7 days (graph.md §3.5).
	Issued int64 `json:"t,omitempty"`
}

// deltaTokenLifetime is how long a directory deltaLink stays usable.
const deltaTokenLifetime = 7 * 24 * time.Hour

func encodeToken(tk deltaToken) string {
	b, _ := json.Marshal(tk)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (deltaToken, *apiError) {
	var tk deltaToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &tk) != nil {
		return tk, badRequest("Badly formed token.")
	}
	return tk, nil
}

// deltaItem is one object a delta round may report.
type deltaItem struct {
	id      string
	seq     uint64
	deleted bool
	reason  string
	props   map[string]any
}

// deltaRound parses the common delta query (graph.md §3.5: $select and
// $filter on id only; no $expand, $top or $orderby) and its token.
func (s *Server) deltaRound(r *request, spec *resourceSpec, t *tenant) (*queryOpts, deltaToken, bool, *apiError) {
	for _, k := range []string{"$expand", "$top", "$orderby"} {
		if r.query.Get(k) != "" {
			return nil, deltaToken{}, false, errf(http.StatusBadRequest, CodeUnsupportedQuery, "Unsupported query option '%s' for delta.", k)
		}
	}
	idOnly := *spec
	idOnly.filter = map[string]string{"id": "eq,in"}
	idOnly.advancedOps = ""
	q := r.query
	// Tokens are not OData options parseQuery understands.
	skip, dtok := q.Get("$skiptoken"), q.Get("$deltatoken")
	q.Del("$skiptoken")
	o, err := parseQuery(r, &idOnly)
	if skip != "" {
		q.Set("$skiptoken", skip)
	}
	if err != nil {
		return nil, deltaToken{}, false, err
	}
	o.top = 100
	if mp := preferMaxPageSize(r.header); mp > 0 && mp <= 999 {
		o.top = mp
	}
	switch {
	case strings.EqualFold(dtok, "latest"):
		return o, deltaToken{Since: t.seq, High: t.seq}, true, nil
	case skip != "":
		tk, err := decodeToken(skip)
		return o, tk, false, err
	case dtok != "":
		tk, err := decodeToken(dtok)
		if err != nil {
			return nil, tk, false, err
		}
		if tk.Issued != 0 && s.now().Sub(time.UnixMilli(tk.Issued)) > s.scaled(deltaTokenLifetime) {
			// An expired token means a full resync: 410 with a Location to
			// start again from (graph.md §3.5).
			e := errf(http.StatusGone, CodeSyncStateNotFound, "The delta token has expired; start a new synchronization.")
			e.header = http.Header{"Location": {r.baseURL + r.path}}
			return nil, tk, false, e
		}
		return o, deltaToken{Since: tk.Since, High: t.seq}, false, nil
	}
	return o, deltaToken{High: t.seq}, false, nil
}

// deltaPage renders one page of items (sorted by id) from tk.After, with
// a nextLink, or a deltaLink on the last page.
func (s *Server) deltaPage(r *request, o *queryOpts, tk deltaToken, latest bool, items []deltaItem, render func(deltaItem) map[string]any, ctxName string) *response {
	sort.Slice(items, func(i, j int) bool { return items[i].id < items[j].id })
	start := sort.Search(len(items), func(i int) bool { return items[i].id > tk.After })
	if tk.After == "" {
		start = 0
	}
	if latest {
		start = len(items)
	}
	end := min(start+o.top, len(items))
	vals := []map[string]any{}
	for _, it := range items[start:end] {
		if it.deleted {
			vals = append(vals, map[string]any{"id": it.id, "@removed": map[string]any{"reason": it.reason}})
			continue
		}
		vals = append(vals, render(it))
	}
	body := map[string]any{"@odata.context": r.baseURL + "/$metadata#" + ctxName, "value": vals}
	if end < len(items) {
		next := tk
		next.After = items[end-1].id
		body["@odata.nextLink"] = s.link(r, "$skiptoken", encodeToken(next), "$deltatoken", "$skiptoken")
	} else {
		body["@odata.deltaLink"] = s.link(r, "$deltatoken", encodeToken(deltaToken{Since: tk.High, Issued: s.now().UnixMilli()}), "$deltatoken", "$skiptoken")
	}
	return jsonResponse(http.StatusOK, body)
}

func (s *Server) userDelta(r *request) (*response, *apiError) {
	t := r.tenant
	o, tk, latest, err := s.deltaRound(r, userSpec, t)
	if err != nil {
		return nil, err
	}
	var items []deltaItem
	for id, u := range t.users {
		if u.seq <= tk.Since || (u.deleted && tk.Since == 0) {
			continue
		}
		if o.filter != nil && !o.filter.eval(u.props, nil) {
			continue
		}
		items = append(items, deltaItem{id: id, seq: u.seq, deleted: u.deleted, reason: u.removedReason, props: u.props})
	}
	render := func(it deltaItem) map[string]any { return project(it.props, o.selects, userDefaults) }
	return s.deltaPage(r, o, tk, latest, items, render, "users"), nil
}

// groupDelta reports changed groups and, when members are tracked (no
// $select, or $select naming members), members@delta: on the first round
// every member, later the net adds and removals since the token.
func (s *Server) groupDelta(r *request) (*response, *apiError) {
	t := r.tenant
	o, tk, latest, err := s.deltaRound(r, groupSpec, t)
	if err != nil {
		return nil, err
	}
	track := map[string]bool{"members": len(o.selects) == 0}
	for _, p := range o.selects {
		if p == "members" || p == "owners" {
			track[p] = true
		}
	}
	// Net membership change per group, relation and member since the token.
	type key struct{ g, rel, m string }
	net := map[key]bool{} // true = removed
	changed := map[string]bool{}
	if tk.Since > 0 {
		i := sort.Search(len(t.memberLog), func(i int) bool { return t.memberLog[i].seq > tk.Since })
		for _, c := range t.memberLog[i:] {
			if !track[c.rel] {
				continue
			}
			net[key{c.groupID, c.rel, c.member}] = c.removed
			changed[c.groupID] = true
		}
	}
	var items []deltaItem
	for id, g := range t.groups {
		if g.deleted && tk.Since == 0 {
			continue
		}
		if g.seq <= tk.Since && !changed[id] {
			continue
		}
		if o.filter != nil && !o.filter.eval(g.props, nil) {
			continue
		}
		items = append(items, deltaItem{id: id, seq: g.seq, deleted: g.deleted, reason: g.removedReason, props: g.props})
	}
	render := func(it deltaItem) map[string]any {
		out := project(it.props, withoutNav(o.selects), groupDefaults)
		g := t.groups[it.id]
		for _, rel := range []string{"members", "owners"} {
			if !track[rel] {
				continue
			}
			var entries []map[string]any
			if tk.Since == 0 {
				for _, m := range g.refs(rel) {
					entries = append(entries, map[string]any{"@odata.type": s.odataType(t, m), "id": m})
				}
			} else {
				var ms []string
				for k := range net {
					if k.g == it.id && k.rel == rel {
						ms = append(ms, k.m)
					}
				}
				sort.Strings(ms)
				for _, m := range ms {
					e := map[string]any{"@odata.type": s.odataType(t, m), "id": m}
					if net[key{it.id, rel, m}] {
						e["@removed"] = map[string]any{"reason": "deleted"}
					}
					entries = append(entries, e)
				}
			}
			if len(entries) > 0 {
				out[rel+"@delta"] = entries
			}
		}
		return out
	}
	return s.deltaPage(r, o, tk, latest, items, render, "groups"), nil
}

// classDelta, schoolDelta and eduUserDelta are the education rostering
// delta queries; their tokens also last 7 days (graph.md §3.5).
func (s *Server) classDelta(r *request) (*response, *apiError) {
	t := r.tenant
	o, tk, latest, err := s.deltaRound(r, classSpec, t)
	if err != nil {
		return nil, err
	}
	var items []deltaItem
	for id, g := range t.groups {
		if g.class == nil || g.seq <= tk.Since || (g.deleted && tk.Since == 0) {
			continue
		}
		items = append(items, deltaItem{id: id, seq: g.seq, deleted: g.deleted, reason: g.removedReason, props: s.classView(g)})
	}
	render := func(it deltaItem) map[string]any { return project(it.props, o.selects, nil) }
	return s.deltaPage(r, o, tk, latest, items, render, "education/classes"), nil
}

func (s *Server) schoolDelta(r *request) (*response, *apiError) {
	t := r.tenant
	o, tk, latest, err := s.deltaRound(r, classSpec, t)
	if err != nil {
		return nil, err
	}
	var items []deltaItem
	for id, sc := range t.schools {
		if sc.seq <= tk.Since || (sc.deleted && tk.Since == 0) {
			continue
		}
		items = append(items, deltaItem{id: id, seq: sc.seq, deleted: sc.deleted, reason: sc.removedReason, props: sc.props})
	}
	render := func(it deltaItem) map[string]any { return project(it.props, o.selects, nil) }
	return s.deltaPage(r, o, tk, latest, items, render, "education/schools"), nil
}

func (s *Server) eduUserDelta(r *request) (*response, *apiError) {
	t := r.tenant
	o, tk, latest, err := s.deltaRound(r, eduUserSpec, t)
	if err != nil {
		return nil, err
	}
	var items []deltaItem
	for id, u := range t.users {
		if u.seq <= tk.Since || (u.deleted && tk.Since == 0) {
			continue
		}
		items = append(items, deltaItem{id: id, seq: u.seq, deleted: u.deleted, reason: u.removedReason, props: eduUserView(u)})
	}
	render := func(it deltaItem) map[string]any { return project(it.props, o.selects, nil) }
	return s.deltaPage(r, o, tk, latest, items, render, "education/users"), nil
}

func (s *Server) odataType(t *tenant, id string) string {
	if _, ok := t.groups[id]; ok {
		return "#microsoft.graph.group"
	}
	return "#microsoft.graph.user"
}
