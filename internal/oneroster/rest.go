package oneroster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/roster"
)

// FetchOptions configure Client.Read. A nil *FetchOptions means the
// defaults: every active record, validated, no session required.
type FetchOptions struct {
	// ReadOptions carry validation (session, snapshot, shrink guard, error
	// cap) and strictness, as for a CSV feed.
	ReadOptions
	// Since, when set, asks only for records changed after it
	// (filter=dateLastModified>'…'), including those marked tobedeleted,
	// and applies them to ReadOptions.Previous, which must then be set.
	// Zero reads every active record (filter=status='active').
	Since time.Time
	// SkipDemographics leaves /demographics alone. The collection is read
	// by default and treated as absent when the provider has none (404).
	SkipDemographics bool
}

// Read fetches every collection the roster needs, page by page, and
// returns a validated Feed, or an error and no roster. Records are located
// in errors by collection ("users") and 1-based record number, with the
// CSV binding's column names.
func (c *Client) Read(ctx context.Context, opts *FetchOptions) (*Feed, error) {
	var o FetchOptions
	if opts != nil {
		o = *opts
	}
	mode, filter := ModeBulk, "status='active'"
	if !o.Since.IsZero() {
		if o.Previous == nil {
			return nil, fmt.Errorf("oneroster: changes since %s: %w", o.Since.UTC().Format(time.RFC3339), ErrNoSnapshot)
		}
		mode, filter = ModeDelta, "dateLastModified>'"+o.Since.UTC().Format(time.RFC3339)+"'"
	}
	col := newCollector(o.MaxErrors)
	col.q = newQuarantine(o.MaxQuarantine, o.Strict)
	loc := &locations{}
	for _, k := range Kinds {
		loc.names[k] = k.String()
	}
	var prev roster.Roster
	if o.Previous != nil {
		prev = *o.Previous
	}
	files := make([]FileStats, numKinds)
	rd := &restReader{c: c, mode: mode, filter: filter, strict: o.Strict, col: col, loc: loc, stats: files, skipDemo: o.SkipDemographics}
	r := &roster.Roster{}
	steps := []func() error{
		func() (err error) { r.Orgs, err = fetchKind(ctx, rd, orgOps, prev.Orgs); return err },
		func() (err error) { r.Sessions, err = fetchKind(ctx, rd, sessionOps, prev.Sessions); return err },
		func() (err error) { r.Courses, err = fetchKind(ctx, rd, courseOps, prev.Courses); return err },
		func() (err error) { r.Classes, err = fetchKind(ctx, rd, classOps, prev.Classes); return err },
		func() (err error) { r.People, err = fetchKind(ctx, rd, userOps, prev.People); return err },
		func() (err error) {
			r.Enrollments, err = fetchKind(ctx, rd, enrollmentOps, prev.Enrollments)
			return err
		},
		func() (err error) {
			r.Demographics, err = fetchKind(ctx, rd, demographicsOps, prev.Demographics)
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
		if col.full() {
			break
		}
	}
	if !col.full() {
		emptyKinds(files, &rd.failed, loc, false, col)
	}
	if col.total > 0 {
		return nil, col.err()
	}
	col.q.size = sizes(files)
	guard, session := validate(r, loc, &o.ValidateOptions, col)
	quarantined := col.q.enforce(loc, col)
	if err := col.err(); err != nil {
		return nil, err
	}
	counts := r.Counts()
	c.log.Info("oneroster read", "mode", string(mode), "people", counts.People, "classes", counts.Classes, "enrollments", counts.Enrollments)
	return &Feed{Roster: r, Session: session, Guard: guard, Files: files, Quarantined: quarantined}, nil
}

type restReader struct {
	c        *Client
	mode     Mode
	filter   string
	strict   bool
	col      *collector
	loc      *locations
	stats    []FileStats
	skipDemo bool
	// failed marks kinds whose reading reported an error.
	failed [numKinds]bool
}

func fetchKind[T any](ctx context.Context, rd *restReader, ops kindOps[T], prev []T) ([]T, error) {
	k := ops.kind
	before := rd.col.total
	defer func() { rd.failed[k] = rd.col.total > before }()
	name := k.String()
	st := &rd.stats[k]
	*st = FileStats{Kind: k, Mode: rd.mode}
	if k == KindDemographics && rd.skipDemo {
		st.Mode = ModeAbsent
		return keep(prev, ops, st, rd.loc), nil
	}
	sk := &sink[T]{ops: ops, mode: rd.mode, strict: rd.strict, c: rd.col, st: st}
	t := &tables[k]
	n := 0
	err := rd.c.collection(ctx, name, rd.filter, func(raw json.RawMessage) bool {
		n++
		rec, status, ok := jsonRecord(k, t, raw, n, rd.col)
		if !ok {
			return !rd.col.full()
		}
		if rd.mode == ModeBulk {
			// The status filter should have left these out; a provider
			// that ignores filters still must not resurrect them.
			if status == "tobedeleted" {
				st.Rows++
				st.Skipped++
				return true
			}
			// REST records always carry status and dateLastModified;
			// in a full read they say nothing.
			rec.fields[cStatus] = ""
		}
		sk.add(rec)
		return !rd.col.full()
	})
	var he *HTTPError
	if k == KindDemographics && errors.As(err, &he) && (he.StatusCode == http.StatusNotFound || he.StatusCode == http.StatusForbidden) {
		// Users never need demographics, and keys limited to rostering
		// scopes are common: the collection is skipped, and says why.
		st.Mode = ModeAbsent
		st.Note = fmt.Sprintf("skipped: %s answered HTTP %d (no demographics from this provider or key)", he.URL, he.StatusCode)
		rd.c.log.Info("oneroster demographics skipped", "status", he.StatusCode)
		return keep(prev, ops, st, rd.loc), nil
	}
	if err != nil {
		return nil, err
	}
	rows, lines := sk.finish(name, prev)
	rd.loc.lines[k] = lines
	return rows, nil
}

// collection fetches every page of /name, calling each for every record
// until it returns false. Paging follows the provider's Link rel="next"
// when it gives one on the same origin; otherwise it steps offset by the
// records received, stopping at X-Total-Count or an empty page.
func (c *Client) collection(ctx context.Context, name, filter string, each func(json.RawMessage) bool) error {
	limit := c.o.PageSize
	offset := 0
	next := c.pageURL(name, filter, limit, offset)
	for pages := 0; ; pages++ {
		if pages > 1_000_000 {
			return fmt.Errorf("oneroster: %s: more than a million pages; is the provider ignoring offset?", name)
		}
		u := next
		resp, err := c.do(ctx, name, func() (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err == nil {
				req.Header.Set("Accept", "application/json")
			}
			return req, err
		}, true)
		if err != nil {
			return err
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(resp.body, &page); err != nil {
			return fmt.Errorf("oneroster: %s page at offset %d is not a JSON object: %w", name, offset, err)
		}
		raw, ok := page[name]
		if !ok {
			return fmt.Errorf("oneroster: %s page at offset %d has no %q array", name, offset, name)
		}
		var records []json.RawMessage
		if !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			if err := json.Unmarshal(raw, &records); err != nil {
				return fmt.Errorf("oneroster: %s page at offset %d: %q is not an array: %w", name, offset, name, err)
			}
		}
		for _, rec := range records {
			if !each(rec) {
				return nil
			}
		}
		offset += len(records)

		links := parseLinks(resp.header.Values("Link"))
		total, hasTotal := -1, false
		if v := resp.header.Get("X-Total-Count"); v != "" {
			if t, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && t >= 0 {
				total, hasTotal = t, true
			}
		}
		switch nextLink, hasNext := links["next"]; {
		case len(records) == 0:
			return nil
		case hasNext && c.sameOrigin(nextLink) && nextLink != u:
			next = nextLink
		case len(links) > 0 && !hasNext:
			return nil // the provider pages with links and this is the last
		case hasTotal && offset >= total:
			return nil
		default:
			// Without Link or X-Total-Count a short page proves nothing:
			// providers cap limit below what was asked. Only an empty page
			// ends the collection; stopping early would truncate the
			// roster, and a truncated roster suspends pupils.
			next = c.pageURL(name, filter, limit, offset)
		}
	}
}

func (c *Client) pageURL(name, filter string, limit, offset int) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/" + name
	q := url.Values{}
	q.Set("limit", strconv.Itoa(limit))
	q.Set("offset", strconv.Itoa(offset))
	q.Set("filter", filter)
	u.RawQuery = q.Encode()
	return u.String()
}

// sameOrigin keeps credentials on the provider: a next link to another
// host is not followed.
func (c *Client) sameOrigin(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host)
}

// parseLinks reads RFC 8288 Link headers into rel -> URL.
func parseLinks(values []string) map[string]string {
	out := map[string]string{}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			segs := strings.Split(part, ";")
			target := strings.TrimSpace(segs[0])
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			target = target[1 : len(target)-1]
			for _, p := range segs[1:] {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "rel") {
					for rel := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(v), `"`)) {
						out[strings.ToLower(rel)] = target
					}
				}
			}
		}
	}
	return out
}

// jsonShape says how a table column is found in a REST record.
type jsonShape int

const (
	jsonScalar  jsonShape = iota // "field": "value" (or number, bool)
	jsonList                     // "field": ["a", "b"]
	jsonRef                      // "field": {"sourcedId": "…"}
	jsonRefs                     // "field": [{"sourcedId": "…"}, …]
	jsonUserIDs                  // "userIds": [{"type": "…", "identifier": "…"}]
	jsonIgnore                   // never read (password)
)

type jsonField struct {
	key   string
	shape jsonShape
}

// jsonFields maps CSV column names to REST fields where they differ: the
// REST binding nests references as GUIDRef objects.
var jsonFields = map[string]jsonField{
	"parentSourcedId":     {"parent", jsonRef},
	"schoolYearSourcedId": {"schoolYear", jsonRef},
	"orgSourcedId":        {"org", jsonRef},
	"courseSourcedId":     {"course", jsonRef},
	"schoolSourcedId":     {"school", jsonRef},
	"classSourcedId":      {"class", jsonRef},
	"userSourcedId":       {"user", jsonRef},
	"termSourcedIds":      {"terms", jsonRefs},
	"orgSourcedIds":       {"orgs", jsonRefs},
	"agentSourcedIds":     {"agents", jsonRefs},
	"grades":              {"grades", jsonList},
	"subjects":            {"subjects", jsonList},
	"subjectCodes":        {"subjectCodes", jsonList},
	"periods":             {"periods", jsonList},
	"userIds":             {"userIds", jsonUserIDs},
	"password":            {"password", jsonIgnore},
}

// jsonRecord turns one REST record into a CSV-shaped record, so the CSV
// rules apply unchanged. It returns the record's status too.
func jsonRecord(k Kind, t *table, raw json.RawMessage, n int, c *collector) (*record, string, bool) {
	file := k.String()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		c.add(&ParseError{File: file, Line: n, Want: "a JSON object", Err: ErrBadValue})
		return nil, "", false
	}
	rec := &record{file: file, line: n, names: t.columns, idx: make([]int, len(t.columns)), fields: make([]string, len(t.columns))}
	ok := true
	for i, col := range t.columns {
		rec.idx[i] = i
		f, mapped := jsonFields[col.name]
		if !mapped {
			f = jsonField{key: col.name, shape: jsonScalar}
		}
		v, present := obj[f.key]
		if !present || f.shape == jsonIgnore {
			continue
		}
		s, err := jsonValue(v, f.shape)
		if err != nil {
			c.add(&ParseError{File: file, Line: n, Column: col.name, Value: clip(string(v)), Want: err.Error(), Err: ErrBadValue})
			ok = false
			continue
		}
		rec.fields[i] = s
	}
	return rec, strings.TrimSpace(rec.fields[cStatus]), ok
}

// jsonValue flattens a REST value into the CSV text of the same column.
func jsonValue(v json.RawMessage, shape jsonShape) (string, error) {
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return "", nil
	}
	switch shape {
	case jsonScalar:
		return scalar(v)
	case jsonList:
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			// Some providers send a single string where a list is due.
			return scalar(v)
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			s, err := scalar(it)
			if err != nil {
				return "", errors.New("an array of strings")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case jsonRef:
		var ref struct {
			SourcedID string `json:"sourcedId"`
		}
		if err := json.Unmarshal(v, &ref); err != nil {
			return "", errors.New(`a reference object {"sourcedId": …}`)
		}
		return ref.SourcedID, nil
	case jsonRefs:
		var refs []struct {
			SourcedID string `json:"sourcedId"`
		}
		if err := json.Unmarshal(v, &refs); err != nil {
			return "", errors.New(`an array of reference objects {"sourcedId": …}`)
		}
		ids := make([]string, len(refs))
		for i, r := range refs {
			ids[i] = r.SourcedID
		}
		return strings.Join(ids, ","), nil
	case jsonUserIDs:
		var ids []struct {
			Type       string `json:"type"`
			Identifier string `json:"identifier"`
		}
		if err := json.Unmarshal(v, &ids); err != nil {
			return "", errors.New(`an array of {"type": …, "identifier": …}`)
		}
		parts := make([]string, len(ids))
		for i, id := range ids {
			if strings.ContainsAny(id.Type+id.Identifier, "{}") {
				return "", errors.New("identifiers without braces")
			}
			parts[i] = "{" + id.Type + ":" + id.Identifier + "}"
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("unknown shape %d", shape)
}

// scalar reads a string, number or boolean as text. OneRoster 1.1 JSON
// writes booleans such as enabledUser as strings, and some providers write
// them as JSON booleans; both read the same.
func scalar(v json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return strconv.FormatBool(b), nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		return n.String(), nil
	}
	return "", errors.New("a string, number or boolean")
}
