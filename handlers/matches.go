package handlers

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// MatchKeysFunc lists what a match file's first column may name for one
// of the customer's profiles: the keys the entity's planner links under
// (classrooms: a class sourcedId, course:{sourcedId} in subject mode),
// each with the name the object would take. A roster that cannot be read
// is ErrRosterUnreadable.
type MatchKeysFunc func(ctx context.Context, c tenant.Customer, p tenant.Profile) (map[string]string, error)

// MatchCatalog is an EntityCatalog whose entities may offer matching from
// a CSV file: MatchKeys returns nil for one that does not.
type MatchCatalog interface {
	MatchKeys(entity string) MatchKeysFunc
}

// ObjectFinder finds the tenant object a match file's row names: by object
// id, or by email address or mailNickname where the kind has them. kind is
// the entity's LinkKind. It answers ErrObjectNotFound, ErrObjectWrongKind
// (found, but not of the kind: a plain group for a classroom),
// ErrObjectAmbiguous, or ErrTenantRefusesKind (a business tenant has no
// education classes) beside failures to reach the tenant.
type ObjectFinder interface {
	FindObject(ctx context.Context, customer tenant.Customer, kind, ref string) (FoundObject, error)
}

// FoundObject is a tenant object a finder found.
type FoundObject struct {
	ID           string
	DisplayName  string
	Mail         string
	MailNickname string
}

// Answers of an ObjectFinder, and of a MatchKeysFunc.
var (
	ErrObjectNotFound    = errors.New("not found in the customer's tenant")
	ErrObjectWrongKind   = errors.New("not an object of the entity's kind")
	ErrObjectAmbiguous   = errors.New("more than one object answers to it")
	ErrTenantRefusesKind = errors.New("the customer's tenant cannot hold objects of this kind")
	ErrRosterUnreadable  = errors.New("the profile's roster cannot be read")
)

// maxMatchRows bounds a match file: each row costs up to three Graph
// reads, and a school has hundreds of classes, not thousands.
const maxMatchRows = 5000

// Match row actions.
const (
	MatchLink    = "link"   // the row links the class to the group
	MatchLinked  = "linked" // already linked so: nothing to do
	MatchInvalid = "error"  // the row is invalid (see its errors)
)

// Columns of a match file.
const (
	matchColKey    = 1
	matchColObject = 2
)

// MatchReport is what a match file does, or would do, row by row.
type MatchReport struct {
	Entity  string       `json:"entity"`
	Applied bool         `json:"applied"`
	Summary MatchSummary `json:"summary"`
	Rows    []MatchRow   `json:"rows"`
}

// MatchSummary counts a match file's rows by action.
type MatchSummary struct {
	Rows   int `json:"rows"`
	Link   int `json:"link"`
	Linked int `json:"linked"`
	Errors int `json:"errors"`
}

// MatchRow is one row of a match file and what it does.
type MatchRow struct {
	// Row is the row's line in the file (the header, if any, is line 1).
	Row       int    `json:"row"`
	SourcedID string `json:"sourcedId"`
	// Object is the second column as given: a group id, an email address
	// or a mailNickname.
	Object string `json:"object"`
	// ObjectID and DisplayName are the tenant object it names, if found.
	ObjectID    string       `json:"objectId,omitempty"`
	DisplayName string       `json:"displayName,omitempty"`
	Action      string       `json:"action"`
	Errors      []MatchError `json:"errors,omitempty"`
}

// MatchError is one located reason a row is invalid.
type MatchError struct {
	Row int `json:"row"`
	// Column is 1 (the class) or 2 (the group); 0 is the row as a whole.
	Column int    `json:"column"`
	Reason string `json:"reason"`
}

// matchProblem is the problem answered when an apply meets invalid rows:
// the report beside it says which and why.
type matchProblem struct {
	Problem
	MatchReport
}

// headerNames are the first-row cells that make it a header, compared
// without case, spaces, '_' or '-'.
var (
	keyHeaders    = []string{"sourcedid", "classsourcedid", "class", "classid", "misclassid", "misclass", "key"}
	objectHeaders = []string{"objectid", "groupid", "group", "email", "mail", "mailnickname", "classroom", "classroomemail", "team", "teamid"}
)

func headerName(s string) string {
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// matchEntity is POST .../entities/{entity}/matches: a CSV file of (MIS
// class, Microsoft 365 group) rows, validated row by row against the
// profile's roster, the customer's tenant and the stored links, answered
// with what each row would do; with apply=true, applied only when every row
// is valid (nothing half-applied), the links stored as a manual link is.
func (a *API) matchEntity(w http.ResponseWriter, r *http.Request) {
	e, ok := a.linkedEntity(w, r)
	if !ok {
		return
	}
	var matchKeys MatchKeysFunc
	if mc, ok := a.entities.(MatchCatalog); ok {
		matchKeys = mc.MatchKeys(e.Name)
	}
	if matchKeys == nil {
		writeProblem(w, r, ProblemActionNotOffered, fmt.Sprintf("entity %s cannot be matched from a file", e.Name))
		return
	}
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "text/csv" ||
		(params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		writeProblem(w, r, ProblemUnsupportedMediaType, fmt.Sprintf("body of type %q: want text/csv (UTF-8)", r.Header.Get("Content-Type")))
		return
	}
	apply := false
	if s := r.URL.Query().Get("apply"); s != "" {
		var err error
		if apply, err = strconv.ParseBool(s); err != nil {
			writeProblem(w, r, ProblemValidation, fmt.Sprintf("apply=%q: want true or false", s))
			return
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, r, ProblemPayloadTooLarge, fmt.Sprintf("body over %d bytes", tooBig.Limit))
			return
		}
		writeProblem(w, r, ProblemValidation, "body: "+err.Error())
		return
	}
	rows, err := readMatchFile(body)
	if err != nil {
		writeProblem(w, r, ProblemValidation, err.Error())
		return
	}
	ctx, customer := r.Context(), r.PathValue("customer")
	c, ok := a.customerWithTenant(w, r, customer, "a link can only point at an object in it")
	if !ok {
		return
	}
	finder, ok := a.objects.(ObjectFinder)
	if !ok {
		writeProblem(w, r, ProblemUnavailable, "objects cannot be looked up: Graph is not configured")
		return
	}
	keys, profiles, ok := a.matchKeys(w, r, c, e, matchKeys)
	if !ok {
		return
	}
	ms, err := a.store.ListMappings(ctx, customer, e.LinkKind)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rep, err := checkMatches(ctx, finder, c, e, rows, keys, profiles, ms)
	if errors.Is(err, ErrTenantRefusesKind) {
		writeProblem(w, r, ProblemConflict, fmt.Sprintf("customer %s: %v", customer, err))
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !apply {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	if rep.Summary.Errors > 0 {
		p := Problem{Type: ProblemValidation, Title: ProblemValidation.Title(), Status: ProblemValidation.Status(), Instance: r.URL.EscapedPath(),
			Detail: fmt.Sprintf("%d of %d rows are invalid; nothing was applied (see rows)", rep.Summary.Errors, rep.Summary.Rows)}
		w.Header().Set("Content-Type", ProblemContentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(p.Status)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(matchProblem{Problem: p, MatchReport: rep})
		return
	}
	var links []state.Mapping
	for _, row := range rep.Rows {
		if row.Action == MatchLink {
			links = append(links, state.Mapping{CustomerID: customer, Kind: e.LinkKind, SourceID: row.SourcedID, TargetID: row.ObjectID, How: "manual"})
		}
	}
	if len(links) > 0 {
		if err := a.store.PutMappings(ctx, links...); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	rep.Applied = true
	a.auditMatch(r, customer, e.Name, len(links))
	a.log.InfoContext(ctx, "links matched from a file", "customer", customer, "entity", e.Name, "rows", rep.Summary.Rows, "linked", len(links))
	writeJSON(w, http.StatusOK, rep)
}

// auditMatch records an applied match in the customer's audit trail (the
// route is registered with handleAudited, which checked the actor); the
// links are stored already, so a failure to record is logged, not
// answered.
func (a *API) auditMatch(r *http.Request, customer, entity string, n int) {
	_ = a.audit(r, customer, AuditLinksMatch, AuditDetails{Entity: entity, Count: n})
}

// matchKeys lists the keys the named profile (?profile=), or every profile
// of the customer syncing the entity, asks for.
func (a *API) matchKeys(w http.ResponseWriter, r *http.Request, c tenant.Customer, e EntityInfo, list MatchKeysFunc) (map[string]string, []string, bool) {
	ctx := r.Context()
	var ps []tenant.Profile
	if id := r.URL.Query().Get("profile"); id != "" {
		p, err := a.store.GetProfile(ctx, c.ID, id)
		if err != nil {
			a.fail(w, r, err)
			return nil, nil, false
		}
		if !slices.Contains(p.Entities, e.Name) {
			writeProblem(w, r, ProblemValidation, fmt.Sprintf("profile %s does not sync %s", id, e.Name))
			return nil, nil, false
		}
		ps = []tenant.Profile{p}
	} else {
		all, err := a.store.ListProfiles(ctx, c.ID)
		if err != nil {
			a.fail(w, r, err)
			return nil, nil, false
		}
		ps = slices.DeleteFunc(all, func(p tenant.Profile) bool { return !slices.Contains(p.Entities, e.Name) })
		if len(ps) == 0 {
			writeProblem(w, r, ProblemConflict, fmt.Sprintf("no profile of customer %s syncs %s: the file's classes are checked against a profile's roster", c.ID, e.Name))
			return nil, nil, false
		}
	}
	keys := map[string]string{}
	var names []string
	for _, p := range ps {
		ks, err := list(ctx, c, p)
		if errors.Is(err, ErrRosterUnreadable) {
			writeProblem(w, r, ProblemConflict, fmt.Sprintf("profile %s: %v", p.ID, err))
			return nil, nil, false
		}
		if err != nil {
			a.fail(w, r, err)
			return nil, nil, false
		}
		for k, v := range ks {
			keys[k] = v
		}
		names = append(names, p.ID)
	}
	return keys, names, true
}

// matchLine is one data row of a match file.
type matchLine struct {
	line   int
	fields []string
}

// readMatchFile reads a match file: UTF-8 (a BOM is dropped), CRLF or LF,
// quoted fields as RFC 4180 has them, an optional header row, blank rows
// skipped. A file CSV cannot read is an error naming the line and column.
func readMatchFile(body []byte) ([]matchLine, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(body) {
		return nil, errors.New("the file is not UTF-8 text")
	}
	cr := csv.NewReader(bytes.NewReader(body))
	cr.FieldsPerRecord = -1 // a row of the wrong width is that row's error
	cr.TrimLeadingSpace = true
	var rows []matchLine
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("row %d, column %d: %v", pe.StartLine, pe.Column, pe.Err)
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if first && (slices.Contains(keyHeaders, headerName(rec[0])) || (len(rec) > 1 && slices.Contains(objectHeaders, headerName(rec[1])))) {
			continue
		}
		if !slices.ContainsFunc(rec, func(s string) bool { return strings.TrimSpace(s) != "" }) {
			continue // a spreadsheet's empty row (",")
		}
		if len(rows) == maxMatchRows {
			return nil, fmt.Errorf("more than %d rows: split the file", maxMatchRows)
		}
		rows = append(rows, matchLine{line: line, fields: rec})
	}
	if len(rows) == 0 {
		return nil, errors.New("the file has no rows: want one row per class, the MIS class sourcedId then the Microsoft 365 group's id, email address or mailNickname")
	}
	return rows, nil
}

// checkMatches validates every row; the tenant is asked once per distinct
// object named.
func checkMatches(ctx context.Context, finder ObjectFinder, c tenant.Customer, e EntityInfo, rows []matchLine, keys map[string]string, profiles []string, ms []state.Mapping) (MatchReport, error) {
	rep := MatchReport{Entity: e.Name, Rows: make([]MatchRow, 0, len(rows))}
	bySource := map[string]state.Mapping{}
	byTarget := map[string]state.Mapping{}
	for _, m := range ms {
		if m.TargetID == "" {
			continue
		}
		bySource[m.SourceID] = m
		byTarget[strings.ToLower(m.TargetID)] = m
	}
	type lookup struct {
		obj FoundObject
		err error
	}
	found := map[string]lookup{}
	keyRow := map[string]int{}
	objRow := map[string]int{}
	for _, l := range rows {
		row := MatchRow{Row: l.line}
		bad := func(col int, format string, args ...any) {
			row.Errors = append(row.Errors, MatchError{Row: l.line, Column: col, Reason: fmt.Sprintf(format, args...)})
		}
		if len(l.fields) != 2 {
			bad(0, "%d columns: want 2, the MIS class sourcedId then the group's id, email address or mailNickname", len(l.fields))
		}
		if len(l.fields) > 0 {
			row.SourcedID = strings.TrimSpace(l.fields[0])
		}
		if len(l.fields) > 1 {
			row.Object = strings.TrimSpace(l.fields[1])
		}
		switch _, known := keys[row.SourcedID]; {
		case row.SourcedID == "":
			bad(matchColKey, "no class: the column is empty")
		case !known:
			bad(matchColKey, "unknown class %q: the roster of profile %s asks for no classroom with this key (a class sourcedId; course:{sourcedId} in subject mode)", row.SourcedID, strings.Join(profiles, ", "))
		case keyRow[row.SourcedID] != 0:
			bad(matchColKey, "class %q is named again: row %d names it already", row.SourcedID, keyRow[row.SourcedID])
		default:
			keyRow[row.SourcedID] = l.line
		}
		if row.Object == "" {
			bad(matchColObject, "no group: the column is empty")
		} else {
			ref := strings.ToLower(row.Object)
			lk, ok := found[ref]
			if !ok {
				lk.obj, lk.err = finder.FindObject(ctx, c, e.LinkKind, row.Object)
				found[ref] = lk
			}
			switch {
			case lk.err == nil:
				row.ObjectID, row.DisplayName = lk.obj.ID, lk.obj.DisplayName
			case errors.Is(lk.err, ErrTenantRefusesKind):
				return rep, lk.err
			case errors.Is(lk.err, ErrObjectNotFound):
				bad(matchColObject, "no group with the id, email address or mailNickname %q in the customer's tenant", row.Object)
			case errors.Is(lk.err, ErrObjectWrongKind):
				bad(matchColObject, "group %s is not an education class (a plain Microsoft 365 group cannot carry a class team)", lk.obj.ID)
			case errors.Is(lk.err, ErrObjectAmbiguous):
				bad(matchColObject, "more than one group answers to %q: give the group's id", row.Object)
			default:
				return rep, lk.err
			}
		}
		if id := strings.ToLower(row.ObjectID); id != "" {
			if first := objRow[id]; first != 0 {
				bad(matchColObject, "group %s is named again: row %d names it already", row.ObjectID, first)
			} else {
				objRow[id] = l.line
			}
			if m, ok := bySource[row.SourcedID]; ok && !strings.EqualFold(m.TargetID, row.ObjectID) {
				bad(matchColKey, "class %q is linked to group %s already: remove that link first", row.SourcedID, m.TargetID)
			}
			if m, ok := byTarget[id]; ok && m.SourceID != row.SourcedID {
				bad(matchColObject, "group %s is linked to class %q already", row.ObjectID, m.SourceID)
			}
		}
		switch m, ok := bySource[row.SourcedID]; {
		case len(row.Errors) > 0:
			row.Action = MatchInvalid
			rep.Summary.Errors++
		case ok && strings.EqualFold(m.TargetID, row.ObjectID):
			row.Action = MatchLinked
			rep.Summary.Linked++
		default:
			row.Action = MatchLink
			rep.Summary.Link++
		}
		rep.Rows = append(rep.Rows, row)
	}
	rep.Summary.Rows = len(rep.Rows)
	return rep, nil
}
