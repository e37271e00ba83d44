package graphsim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// queryOpts are the OData query options of a collection request.
type queryOpts struct {
	selects  []string
	top      int
	filter   expr
	search   expr // $search, as a predicate
	orderBy  string
	desc     bool
	count    bool // $count=true honoured (advanced query)
	advanced bool // ConsistencyLevel: eventual present
	after    string
}

// resourceSpec describes what a collection accepts in $select and $filter.
type resourceSpec struct {
	typeName string // "user": used in messages as microsoft.graph.user
	resource string // "User": used in filter messages
	// props lists selectable properties; nil accepts any.
	props map[string]bool
	// defaults is the property set returned without $select; nil means all.
	defaults []string
	// filter maps a property to the operators it takes without advanced
	// query; nil accepts any property and operator.
	filter map[string]string
	// advancedOps are the operators that need ConsistencyLevel: eventual
	// and $count=true (graph.md §3.5).
	advancedOps string
	// orderable lists the properties $orderby accepts.
	orderable  map[string]bool
	defaultTop int
	maxTop     int
}

// parseQuery reads $select, $top, $filter, $count and $skiptoken.
func parseQuery(r *request, spec *resourceSpec) (*queryOpts, *apiError) {
	q := r.query
	o := &queryOpts{top: spec.defaultTop}
	o.advanced = strings.EqualFold(r.header.Get("ConsistencyLevel"), "eventual")
	if v := q.Get("$select"); v != "" {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if spec.props != nil && !spec.props[p] && !strings.HasPrefix(p, "extension_") {
				return nil, errf(http.StatusBadRequest, CodeBadRequest, "Could not find a property named '%s' on type 'microsoft.graph.%s'.", p, spec.typeName)
			}
			o.selects = append(o.selects, p)
		}
	}
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > spec.maxTop {
			return nil, errf(http.StatusBadRequest, CodeUnsupportedQuery, "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", v, spec.maxTop)
		}
		o.top = n
	} else if mp := preferMaxPageSize(r.header); mp > 0 && mp <= spec.maxTop {
		o.top = mp
	}
	// $count=true without the header is silently ignored (graph.md §3.5).
	o.count = o.advanced && strings.EqualFold(q.Get("$count"), "true")
	if v := q.Get("$filter"); v != "" {
		e, perr := parseFilter(v)
		if perr != nil {
			return nil, perr
		}
		if aerr := checkFilter(e, spec, o.advanced && o.count); aerr != nil {
			return nil, aerr
		}
		o.filter = e
	}
	if v := q.Get("$search"); v != "" {
		if !o.advanced {
			return nil, errf(http.StatusBadRequest, CodeUnsupportedQuery, "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
		}
		e, aerr := parseSearch(v)
		if aerr != nil {
			return nil, aerr
		}
		o.search = e
	}
	if v := q.Get("$orderby"); v != "" {
		prop, dir, _ := strings.Cut(strings.TrimSpace(v), " ")
		if spec.orderable == nil || !spec.orderable[prop] || (dir != "" && dir != "asc" && dir != "desc") {
			return nil, errf(http.StatusBadRequest, CodeUnsupportedQuery, "Sorting not supported for '%s'.", v)
		}
		// Sorting a filtered or searched result is an advanced query.
		if (o.filter != nil || o.search != nil) && !(o.advanced && o.count) {
			return nil, unsupportedQuery()
		}
		o.orderBy, o.desc = prop, dir == "desc"
	}
	if v := q.Get("$skiptoken"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			return nil, errf(http.StatusBadRequest, CodeBadRequest, "Invalid skip token.")
		}
		o.after = string(b)
	}
	return o, nil
}

func preferMaxPageSize(h http.Header) int {
	for _, v := range h.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(strings.TrimSpace(part), "odata.maxpagesize="); ok {
				if i, err := strconv.Atoi(n); err == nil {
					return i
				}
			}
		}
	}
	return 0
}

// matches applies $filter and $search to obj.
func (o *queryOpts) matches(obj map[string]any) bool {
	return (o.filter == nil || o.filter.eval(obj, nil)) && (o.search == nil || o.search.eval(obj, nil))
}

// ordered applies $orderby: it sorts items (with ids) by the property and
// returns position keys, since paging must follow the sorted order.
func (o *queryOpts) ordered(items []map[string]any, ids []string, props []map[string]any) ([]map[string]any, []string) {
	if o.orderBy == "" {
		return items, ids
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		x := strings.ToLower(str(props[idx[a]][o.orderBy]))
		y := strings.ToLower(str(props[idx[b]][o.orderBy]))
		if o.desc {
			return x > y
		}
		return x < y
	})
	outItems := make([]map[string]any, len(idx))
	keys := make([]string, len(idx))
	for i, j := range idx {
		outItems[i] = items[j]
		keys[i] = fmt.Sprintf("%09d", i)
	}
	return outItems, keys
}

// parseSearch reads $search="prop:words" clauses joined by AND or OR.
// Graph tokenises and prefix-matches; a case-insensitive substring match
// is close enough for a roster sync's lookups.
func parseSearch(v string) (expr, *apiError) {
	bad := errf(http.StatusBadRequest, CodeBadRequest, "Invalid $search clause: %s", v)
	var out expr
	op := ""
	rest := strings.TrimSpace(v)
	for rest != "" {
		if !strings.HasPrefix(rest, `"`) {
			return nil, bad
		}
		end := strings.Index(rest[1:], `"`)
		if end < 0 {
			return nil, bad
		}
		clause := rest[1 : end+1]
		rest = strings.TrimSpace(rest[end+2:])
		prop, word, ok := strings.Cut(clause, ":")
		if !ok || prop == "" {
			return nil, bad
		}
		var e expr = searchExpr{prop: prop, word: strings.ToLower(word)}
		switch {
		case out == nil:
			out = e
		case op == "OR":
			out = orExpr{out, e}
		default:
			out = andExpr{out, e}
		}
		op = ""
		if w, r, ok := strings.Cut(rest, " "); ok && (strings.EqualFold(w, "AND") || strings.EqualFold(w, "OR")) {
			op, rest = strings.ToUpper(w), strings.TrimSpace(r)
		} else if rest != "" && !strings.HasPrefix(rest, `"`) {
			return nil, bad
		}
	}
	if out == nil {
		return nil, bad
	}
	return out, nil
}

type searchExpr struct{ prop, word string }

func (e searchExpr) eval(o, env map[string]any) bool {
	return strings.Contains(strings.ToLower(str(lookup(o, env, e.prop))), e.word)
}

// project returns the properties of obj that a response shows.
func project(obj map[string]any, selects, defaults []string) map[string]any {
	keys := selects
	if len(keys) == 0 {
		keys = defaults
	}
	if keys == nil {
		out := make(map[string]any, len(obj))
		for k, v := range obj {
			if k == "passwordProfile" {
				continue
			}
			out[k] = v
		}
		return out
	}
	out := make(map[string]any, len(keys)+1)
	out["id"] = obj["id"]
	for _, k := range keys {
		if k == "passwordProfile" {
			// Graph never returns the password.
			out[k] = nil
			continue
		}
		out[k] = obj[k]
	}
	return out
}

// page renders one page of items (already sorted by id) with nextLink.
func (s *Server) page(r *request, o *queryOpts, items []map[string]any, ids []string, contextName string, extra map[string]any) *response {
	start := 0
	if o.after != "" {
		start = sort.SearchStrings(ids, o.after)
		if start < len(ids) && ids[start] == o.after {
			start++
		}
	}
	end := min(start+o.top, len(items))
	body := map[string]any{
		"@odata.context": r.baseURL + "/$metadata#" + contextName,
		"value":          nonNil(items[start:end]),
	}
	if o.count {
		body["@odata.count"] = len(items)
	}
	for k, v := range extra {
		body[k] = v
	}
	if end < len(items) {
		body["@odata.nextLink"] = s.link(r, "$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(ids[end-1])), "$skiptoken")
	}
	return jsonResponse(http.StatusOK, body)
}

func nonNil(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

// link builds an absolute URL on the request's own host for r.path with
// the query minus the drop keys, plus key=value.
func (s *Server) link(r *request, key, value string, drop ...string) string {
	q := url.Values{}
	for k, vs := range r.query {
		skip := k == key
		for _, d := range drop {
			if strings.EqualFold(k, d) {
				skip = true
			}
		}
		if !skip {
			q[k] = vs
		}
	}
	q.Set(key, value)
	// Keep "$" readable, as Graph's links do.
	return r.baseURL + r.path + "?" + strings.ReplaceAll(q.Encode(), "%24", "$")
}
