package oneroster

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for ParseError.Err. Compare with errors.Is; the text of an error
// is not an API.
var (
	// ErrSyntax is broken CSV quoting. The ParseError's Err also wraps the
	// encoding/csv cause (csv.ErrQuote or csv.ErrBareQuote).
	ErrSyntax = errors.New("malformed CSV")
	// ErrFieldCount is a row with more or fewer fields than the header,
	// usually a truncated file or an unquoted comma.
	ErrFieldCount = errors.New("wrong number of fields")
	// ErrEncoding is text that is not UTF-8 (Windows-1252, UTF-16 …).
	ErrEncoding = errors.New("not UTF-8")
	// ErrMissingHeader is an empty file where a header row was due.
	ErrMissingHeader = errors.New("missing header row")
	// ErrNoRows is a file (or REST collection) the feed cannot do without
	// that holds a header but no records: a failed or truncated export.
	// It is reported once, at line 2, instead of as a dangling reference
	// from every record that points into the empty file.
	ErrNoRows = errors.New("no rows")
	// ErrControlChar is a value holding a control character (NUL, C0
	// other than tab and line breaks, DEL, C1): binary junk or a broken
	// export, never part of a name.
	ErrControlChar = errors.New("control character")
	// ErrTooLong is a value longer than any real one (MaxFieldLength).
	ErrTooLong = errors.New("value too long")
	// ErrMissingColumn is a header without a column the file requires.
	ErrMissingColumn = errors.New("missing required column")
	// ErrDuplicateColumn is a header naming a column twice.
	ErrDuplicateColumn = errors.New("duplicate column")
	// ErrMissingField is an empty value in a required column.
	ErrMissingField = errors.New("missing required value")
	// ErrBadEnum is a value outside a OneRoster enumeration.
	ErrBadEnum = errors.New("unknown enumeration value")
	// ErrBadDate is a malformed date or date-time.
	ErrBadDate = errors.New("malformed date")
	// ErrBadValue is any other malformed value (booleans, userIds, years).
	ErrBadValue = errors.New("malformed value")
	// ErrBadStatus is a status the file's mode does not allow, e.g. a bulk
	// row marked tobedeleted or a delta row with no status.
	ErrBadStatus = errors.New("status not allowed in this mode")
	// ErrDuplicateID is a sourcedId used twice in one file.
	ErrDuplicateID = errors.New("duplicate sourcedId")
	// ErrUnknownRef is a reference to a record the feed does not hold.
	ErrUnknownRef = errors.New("reference to a missing record")
	// ErrWrongOrgType is a reference to an org of the wrong type, e.g. a
	// class whose school is a trust.
	ErrWrongOrgType = errors.New("org of the wrong type")
	// ErrNoSchool is a person who belongs to no school.
	ErrNoSchool = errors.New("person with no school")
	// ErrContradiction is a record at odds with another, e.g. a pupil
	// enrolled as a teacher.
	ErrContradiction = errors.New("contradictory records")
	// ErrCycle is an org or session that is its own ancestor.
	ErrCycle = errors.New("parent cycle")
	// ErrNoActiveSession is a feed without the academic session the run
	// syncs.
	ErrNoActiveSession = errors.New("active academic session missing")
	// ErrManifest is a malformed manifest.csv.
	ErrManifest = errors.New("bad manifest")
	// ErrMissingFile is a file the manifest lists but the feed lacks.
	ErrMissingFile = errors.New("missing file")
	// ErrUnexpectedFile is a file present although the manifest says absent.
	ErrUnexpectedFile = errors.New("file marked absent is present")
	// ErrNoSnapshot is a delta file read without a previous snapshot.
	ErrNoSnapshot = errors.New("delta without a previous snapshot")
	// ErrArchive is a zip archive that cannot be read (truncated, corrupt).
	ErrArchive = errors.New("unreadable archive")
	// ErrShrink is the shrink guard: the feed lost more records than the
	// threshold allows against the previous snapshot. See Guard.
	ErrShrink = errors.New("feed shrank suspiciously")
)

// ParseError is one located problem in a feed, modelled on csv.ParseError:
// the location is data and the cause, Err, is one of the sentinels above.
//
// Value may hold personal data (a pupil's name or date of birth). Error
// leaves it out for personal columns, so the message can be logged; code
// that shows Value to a person must apply the same care.
type ParseError struct {
	// File is the feed file ("users.csv"), the REST collection
	// ("users"), or the archive; a record carried over from the previous
	// snapshot has File "previous snapshot (users.csv)".
	File string
	// Line is the 1-based line where the record starts (the record number
	// for REST); 0 when the problem concerns the whole file.
	Line int
	// Column is the header name of the field. For CSV syntax errors, where
	// no field is known, it is the byte position on the line ("byte 17").
	Column string
	// Value is the offending value, or "" when it is missing.
	Value string
	// Want says what was expected, for people.
	Want string
	// Err is the cause: one of the package's sentinels.
	Err error
}

// Error reads "users.csv:12: column role: value "pupil": want one of …:
// unknown enumeration value".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, ": column %s", e.Column)
	}
	switch {
	case e.Value == "":
	case personal(e.File, e.Column):
		fmt.Fprintf(&b, ": value withheld (%d bytes of personal data)", len(e.Value))
	default:
		fmt.Fprintf(&b, ": value %q", clip(e.Value))
	}
	if e.Want != "" {
		fmt.Fprintf(&b, ": want %s", e.Want)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// clip keeps error messages readable when a whole line lands in one field.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// personal reports whether a column of a file may hold personal data,
// which must never reach a log.
func personal(file, column string) bool {
	switch base := strings.ToLower(file); {
	case base == "student.csv" || base == "teacher.csv":
		// SDS v1 people.
		switch column {
		case "SIS ID", "ID", "School SIS ID", "School DfE Number", "Grade", "Year Group", "Status":
			return false
		}
		return true
	case base == "users.csv" && column == "activeDirectoryMatchId":
		return true
	case strings.Contains(file, "demographics"):
		switch column {
		case "sourcedId", "status", "dateLastModified":
			return false
		}
		return true
	case strings.Contains(file, "users"):
		switch column {
		case "username", "userIds", "givenName", "familyName", "middleName",
			"identifier", "email", "sms", "phone", "password":
			return true
		}
	}
	return false
}

// ErrorList is the error a read or validation returns when the feed has
// problems: every problem found, in file and line order, up to a cap.
// errors.Is and errors.As see through it to each ParseError and sentinel.
type ErrorList struct {
	Errs []*ParseError
	// Total counts every problem found, including those beyond the cap;
	// reading stops soon after the cap is reached, so Total is a lower
	// bound when it exceeds len(Errs).
	Total int
}

func (l *ErrorList) Error() string {
	switch len(l.Errs) {
	case 0:
		return "oneroster: no errors"
	case 1:
		return "oneroster: " + l.Errs[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "oneroster: %d problems", l.Total)
	if l.Total > len(l.Errs) {
		fmt.Fprintf(&b, " (first %d shown)", len(l.Errs))
	}
	for _, e := range l.Errs {
		b.WriteString("\n\t")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As match any of the listed errors.
func (l *ErrorList) Unwrap() []error {
	out := make([]error, len(l.Errs))
	for i, e := range l.Errs {
		out[i] = e
	}
	return out
}

// DefaultMaxErrors is how many problems a read collects before it stops.
const DefaultMaxErrors = 100

// collector gathers located errors up to a cap.
type collector struct {
	errs  []*ParseError
	total int
	max   int
	// q, when set, takes row-level problems of quarantinable kinds
	// instead of errs.
	q *quarantine
}

func newCollector(max int) *collector {
	if max <= 0 {
		max = DefaultMaxErrors
	}
	return &collector{max: max}
}

func (c *collector) add(e *ParseError) {
	c.total++
	if len(c.errs) < c.max {
		c.errs = append(c.errs, e)
	}
}

// full reports that the cap is reached, so callers can stop early.
func (c *collector) full() bool { return c.total >= c.max }

func (c *collector) err() error {
	if c.total == 0 {
		return nil
	}
	return &ErrorList{Errs: c.errs, Total: c.total}
}
