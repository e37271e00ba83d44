package graphsim

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

var eventProps = map[string]propKind{
	"subject": kString, "body": kObject, "start": kObject, "end": kObject, "location": kObject,
	"locations": kObjects, "attendees": kObjects, "isReminderOn": kBool, "reminderMinutesBeforeStart": kInt,
	"transactionId": kString, "singleValueExtendedProperties": kObjects, "multiValueExtendedProperties": kObjects,
	"showAs": kString, "categories": kStrings, "isAllDay": kBool, "importance": kString, "sensitivity": kString,
	"isOnlineMeeting": kBool, "onlineMeetingProvider": kString, "allowNewTimeProposals": kBool,
	"responseRequested": kBool, "hideAttendees": kBool, "recurrence": kObject, "bodyPreview": kString,
	"organizer": kObject, "isCancelled": kBool,
}

var eventSpec = &resourceSpec{typeName: "event", defaultTop: 10, maxTop: 1000}

// mailbox finds the user whose calendar a request addresses. Users without
// a mailbox (no licence, so no mail) get Outlook's 404.
func (s *Server) mailbox(t *tenant, key string) (*user, *apiError) {
	u := t.findUser(key)
	if u == nil || !s.visible(&u.meta) {
		return nil, errf(http.StatusNotFound, "ErrorInvalidUser", "The requested user '%s' is invalid.", key)
	}
	if str(u.props["mail"]) == "" {
		return nil, errf(http.StatusNotFound, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
	}
	return u, nil
}

func eventNotFound() *apiError {
	return errf(http.StatusNotFound, CodeErrorItemNotFound, "The specified object was not found in the store.")
}

// eventTime parses a dateTimeTimeZone value.
func eventTime(v any) (time.Time, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return time.Time{}, false
	}
	loc := time.UTC
	if tz := str(m["timeZone"]); tz != "" && tz != "UTC" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	dt := str(m["dateTime"])
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, dt, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// outlookID makes an Outlook-style opaque item id.
func (s *Server) outlookID() string {
	g := strings.ReplaceAll(s.ids.guid(), "-", "")
	return "AAMkAG" + base64.RawURLEncoding.EncodeToString([]byte(g))
}

func (s *Server) validateEvent(body map[string]any, create bool) *apiError {
	if err := checkTypes(body, "event", eventProps); err != nil {
		return err
	}
	if create {
		for _, k := range []string{"start", "end"} {
			if body[k] == nil {
				return errf(http.StatusBadRequest, CodeErrorInvalidRequest, "Your request can't be completed. The %s property is required.", k)
			}
		}
	}
	var st, en time.Time
	var okS, okE bool
	if v, ok := body["start"]; ok {
		if st, okS = eventTime(v); !okS {
			return errf(http.StatusBadRequest, CodeErrorInvalidRequest, "Cannot convert the literal '%s' to the expected type 'dateTimeTimeZone'.", literal(v))
		}
	}
	if v, ok := body["end"]; ok {
		if en, okE = eventTime(v); !okE {
			return errf(http.StatusBadRequest, CodeErrorInvalidRequest, "Cannot convert the literal '%s' to the expected type 'dateTimeTimeZone'.", literal(v))
		}
	}
	if okS && okE && en.Before(st) {
		return errf(http.StatusBadRequest, CodeErrorInvalidRequest, "Your request can't be completed. The end time must be after the start time.")
	}
	for _, p := range body["singleValueExtendedProperties"].([]any) {
		if !extPropID.MatchString(str(p.(map[string]any)["id"])) {
			return errf(http.StatusBadRequest, CodeErrorInvalidRequest, "The extended property id '%s' is not valid.", str(p.(map[string]any)["id"]))
		}
	}
	return nil
}

// extPropID is the "{type} {GUID} Name {name}" (or Id 0x...) format.
var extPropID = regexp.MustCompile(`^\w+ (\{[0-9A-Fa-f-]{36}\} (Name \S.*|Id 0x[0-9A-Fa-f]+)|0x[0-9A-Fa-f]+)$`)

func (s *Server) eventView(e *event, selects []string, expand string) map[string]any {
	out := map[string]any{}
	for k, v := range e.props {
		if k != "singleValueExtendedProperties" && k != "transactionId" {
			out[k] = v
		}
	}
	// transactionId is "only returned in a response payload if an app has
	// set it" (graph.md §7).
	if tid, ok := e.props["transactionId"]; ok && tid != nil {
		out["transactionId"] = tid
	}
	out = project(out, selects, nil)
	out["@odata.etag"] = `W/"` + str(e.props["changeKey"]) + `"`
	if expand != "" {
		// $expand=singleValueExtendedProperties($filter=id eq '...')
		var keep []any
		want := ""
		if m := expandFilterRE.FindStringSubmatch(expand); m != nil {
			want = m[1]
		}
		for _, p := range e.props["singleValueExtendedProperties"].([]any) {
			if want == "" || strings.EqualFold(str(p.(map[string]any)["id"]), want) {
				keep = append(keep, p)
			}
		}
		out["singleValueExtendedProperties"] = nonNilAny(keep)
	}
	return out
}

var expandFilterRE = regexp.MustCompile(`(?i)singleValueExtendedProperties\(\$filter=id eq '([^']*)'\)`)

func (s *Server) createEvent(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.mailbox(t, v[0])
	if err != nil {
		return nil, err
	}
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if _, ok := body["singleValueExtendedProperties"]; !ok {
		body["singleValueExtendedProperties"] = []any{}
	}
	if err := s.validateEvent(body, true); err != nil {
		return nil, err
	}
	// transactionId de-duplication: a retried create returns the event
	// the first attempt made. Graph publishes no window; this keeps it for
	// the mailbox's lifetime.
	if tid := str(body["transactionId"]); tid != "" {
		for _, id := range sortedIDs(t.events) {
			e := t.events[id]
			if !e.deleted && e.userID == u.id && str(e.props["transactionId"]) == tid {
				out := s.eventView(e, nil, "")
				return jsonResponse(http.StatusCreated, out), nil
			}
		}
	}
	id := s.outlookID()
	now := graphTime(s.now())
	p := map[string]any{
		"id": id, "createdDateTime": now, "lastModifiedDateTime": now, "changeKey": s.outlookID()[6:20],
		"iCalUId":     "040000008200E00074C5B7101A82E008" + strings.ToUpper(strings.ReplaceAll(s.ids.guid(), "-", "")),
		"isOrganizer": true, "type": "singleInstance", "isCancelled": false, "isReminderOn": true,
		"reminderMinutesBeforeStart": int64(15), "showAs": "busy", "importance": "normal", "sensitivity": "normal",
		"isAllDay": false, "categories": []any{}, "attendees": []any{},
		"organizer": map[string]any{"emailAddress": map[string]any{"name": u.props["displayName"], "address": u.props["mail"]}},
		"webLink":   "https://outlook.office365.com/owa/?itemid=" + id + "&exvsurl=1&path=/calendar/item",
	}
	for k, val := range body {
		if !strings.Contains(k, "@") {
			p[k] = val
		}
	}
	e := &event{meta: meta{id: id, created: s.now()}, userID: u.id, props: p}
	t.touch(objEvent, &e.meta)
	t.events[id] = e
	out := s.eventView(e, nil, "")
	out["@odata.context"] = r.baseURL + "/$metadata#users('" + u.id + "')/events/$entity"
	return jsonResponse(http.StatusCreated, out), nil
}

func (s *Server) findEvent(t *tenant, u *user, id string) (*event, *apiError) {
	e := t.events[id]
	if e == nil || e.deleted || e.userID != u.id {
		return nil, eventNotFound()
	}
	return e, nil
}

func (s *Server) getEvent(r *request, v []string) (*response, *apiError) {
	u, err := s.mailbox(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	o, err := parseQuery(r, eventSpec)
	if err != nil {
		return nil, err
	}
	e, err := s.findEvent(r.tenant, u, v[1])
	if err != nil {
		return nil, err
	}
	return jsonResponse(http.StatusOK, s.eventView(e, o.selects, r.query.Get("$expand"))), nil
}

func (s *Server) patchEvent(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.mailbox(t, v[0])
	if err != nil {
		return nil, err
	}
	e, err := s.findEvent(t, u, v[1])
	if err != nil {
		return nil, err
	}
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if _, ok := body["singleValueExtendedProperties"]; !ok {
		body["singleValueExtendedProperties"] = []any{}
		defer delete(body, "singleValueExtendedProperties")
	}
	if err := s.validateEvent(body, false); err != nil {
		return nil, err
	}
	if tid, ok := body["transactionId"]; ok && tid != e.props["transactionId"] {
		return nil, errf(http.StatusBadRequest, CodeErrorInvalidRequest, "The transactionId property cannot be changed once it is set.")
	}
	for k, val := range body {
		if strings.Contains(k, "@") {
			continue
		}
		if k == "singleValueExtendedProperties" {
			// Extended properties merge by id.
			merged := e.props[k].([]any)
			for _, np := range val.([]any) {
				id := str(np.(map[string]any)["id"])
				replaced := false
				for i, op := range merged {
					if strings.EqualFold(str(op.(map[string]any)["id"]), id) {
						merged[i], replaced = np, true
					}
				}
				if !replaced {
					merged = append(merged, np)
				}
			}
			e.props[k] = merged
			continue
		}
		e.props[k] = val
	}
	e.props["lastModifiedDateTime"] = graphTime(s.now())
	e.props["changeKey"] = s.outlookID()[6:20]
	t.touch(objEvent, &e.meta)
	return jsonResponse(http.StatusOK, s.eventView(e, nil, "")), nil
}

func (s *Server) deleteEvent(r *request, v []string) (*response, *apiError) {
	u, err := s.mailbox(r.tenant, v[0])
	if err != nil {
		return nil, err
	}
	e, err := s.findEvent(r.tenant, u, v[1])
	if err != nil {
		return nil, err
	}
	e.deleted = true
	r.tenant.touch(objEvent, &e.meta)
	return noContent(), nil
}

func (s *Server) listEvents(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.mailbox(t, v[0])
	if err != nil {
		return nil, err
	}
	o, err := parseQuery(r, eventSpec)
	if err != nil {
		return nil, err
	}
	items, ids := s.eventItems(t, u, o, r.query.Get("$expand"), nil)
	return s.page(r, o, items, ids, "users('"+u.id+"')/events", nil), nil
}

func (s *Server) eventItems(t *tenant, u *user, o *queryOpts, expand string, keep func(*event) bool) ([]map[string]any, []string) {
	var items []map[string]any
	var ids []string
	for _, id := range sortedIDs(t.events) {
		e := t.events[id]
		if e.deleted || e.userID != u.id || (keep != nil && !keep(e)) {
			continue
		}
		if o.filter != nil && !o.filter.eval(e.props, nil) {
			continue
		}
		items = append(items, s.eventView(e, o.selects, expand))
		ids = append(ids, id)
	}
	return items, ids
}

// calendarView lists events overlapping [startDateTime, endDateTime);
// both are required (graph.md §7). Recurring series are not expanded.
func (s *Server) calendarView(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.mailbox(t, v[0])
	if err != nil {
		return nil, err
	}
	parse := func(name string) (time.Time, bool) {
		raw := r.query.Get(name)
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.9999999", "2006-01-02"} {
			if tm, err := time.Parse(layout, raw); err == nil {
				return tm, true
			}
		}
		return time.Time{}, false
	}
	from, ok1 := parse("startDateTime")
	to, ok2 := parse("endDateTime")
	if !ok1 || !ok2 {
		return nil, errf(http.StatusBadRequest, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
	}
	o, err := parseQuery(r, eventSpec)
	if err != nil {
		return nil, err
	}
	items, ids := s.eventItems(t, u, o, r.query.Get("$expand"), func(e *event) bool {
		st, ok1 := eventTime(e.props["start"])
		en, ok2 := eventTime(e.props["end"])
		return ok1 && ok2 && st.Before(to) && en.After(from)
	})
	// Outlook orders a calendar view by start time: page on "start|id" so
	// the order and the paging key agree.
	keys := make([]string, len(ids))
	order := make([]int, len(ids))
	for i, id := range ids {
		st, _ := eventTime(t.events[id].props["start"])
		keys[i] = st.UTC().Format("2006-01-02T15:04:05.000000000") + "|" + id
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	sortedItems := make([]map[string]any, len(order))
	sortedKeys := make([]string, len(order))
	for i, j := range order {
		sortedItems[i], sortedKeys[i] = items[j], keys[j]
	}
	items, ids = sortedItems, sortedKeys
	return s.page(r, o, items, ids, "users('"+u.id+"')/calendarView", nil), nil
}
