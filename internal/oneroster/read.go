package oneroster

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/internal/roster"
)

// ReadOptions configure a read. A nil *ReadOptions means the defaults.
type ReadOptions struct {
	// ValidateOptions say which session is active, what the previous
	// snapshot was (needed for delta files; used by the shrink guard) and
	// how many errors to collect.
	ValidateOptions

	// Strict holds the feed to the letter of OneRoster 1.1: exact header
	// and enumeration case, a manifest, blank status in bulk files, CEDS
	// grades, RFC 3339 dateLastModified. The default accepts the common
	// deviations of real MIS exports whose meaning is not in doubt.
	Strict bool
}

// Feed is a feed that read and validated cleanly.
type Feed struct {
	Roster *roster.Roster
	// Session is the SourcedID of the active academic session, found from
	// ValidateOptions.Session or ValidateOptions.On; "" when neither was
	// given.
	Session string
	// Guard is the shrink guard's verdict. The run must stop before
	// planning when Guard.Tripped, until someone confirms the feed.
	Guard Guard
	// Files says how each kind was read, with counts that are safe to log.
	Files []FileStats
	// Quarantined lists the problems of the rows left out of the roster:
	// each confined to its row (a contradictory enrolment, a person with
	// no school), and fewer than the cap allows. Empty for a clean feed.
	Quarantined []Quarantined
}

// FileStats describes how one kind of record was read.
type FileStats struct {
	Kind Kind `json:"kind"`
	Mode Mode `json:"mode"`
	// Rows is the number of data rows (or REST records) read.
	Rows int `json:"rows"`
	// Skipped counts bulk rows marked tobedeleted, which are left out.
	Skipped int `json:"skipped,omitempty"`
	// Added, Replaced and Deleted count delta rows applied to the
	// previous snapshot; Stale counts delta rows older than the snapshot's
	// record, which are ignored; Kept counts snapshot records carried over.
	Added    int `json:"added,omitempty"`
	Replaced int `json:"replaced,omitempty"`
	Deleted  int `json:"deleted,omitempty"`
	Stale    int `json:"stale,omitempty"`
	Kept     int `json:"kept,omitempty"`
	// Records is how many records of the kind the result holds.
	Records int `json:"records"`
	// Note says why an optional kind was skipped (a REST provider that
	// refuses demographics), for the run's report.
	Note string `json:"note,omitempty"`
}

// Open reads the OneRoster 1.1 CSV feed at path: a folder, or a .zip file.
func Open(ctx context.Context, path string, opts *ReadOptions) (*Feed, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open roster feed: %w", err)
	}
	if info.IsDir() {
		return read(ctx, os.DirFS(path), path, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open roster feed: %w", err)
	}
	defer f.Close()
	return ReadZip(ctx, f, info.Size(), filepath.Base(path), opts)
}

// ReadZip reads a feed from a zip archive of size bytes; name labels errors.
// A truncated or corrupt archive gives a located error like any bad file.
func ReadZip(ctx context.Context, r io.ReaderAt, size int64, name string, opts *ReadOptions) (*Feed, error) {
	zr, err := zipReader(r, size, name)
	if err != nil {
		return nil, err
	}
	return read(ctx, zr, name, opts)
}

func zipReader(r io.ReaderAt, size int64, name string) (*zip.Reader, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		c := newCollector(0)
		c.add(&ParseError{File: name, Want: "a complete zip archive (the upload may be truncated)", Err: fmt.Errorf("%w: %w", ErrArchive, err)})
		return nil, c.err()
	}
	return zr, nil
}

// Read reads and validates a OneRoster 1.1 CSV feed held in fsys. It
// returns either a complete roster or an *ErrorList of located problems
// (or the context's error), never both: a feed with any problem is refused
// whole, so nothing partial reaches a tenant.
func Read(ctx context.Context, fsys fs.FS, opts *ReadOptions) (*Feed, error) {
	return read(ctx, fsys, ".", opts)
}

// read is Read with a name for the feed as a whole, for errors about it.
func read(ctx context.Context, fsys fs.FS, name string, opts *ReadOptions) (*Feed, error) {
	var o ReadOptions
	if opts != nil {
		o = *opts
	}
	c := newCollector(o.MaxErrors)
	c.q = newQuarantine(o.MaxQuarantine, o.Strict)
	src, err := newSource(fsys, o.Strict)
	if err != nil {
		c.add(&ParseError{File: ".", Want: "a folder or archive of OneRoster CSV files", Err: fmt.Errorf("%w: %w", ErrArchive, err)})
		return nil, c.err()
	}
	if f := src.detect(); f != FormatOneRoster || !src.hasAny() {
		// Read as OneRoster, another format's files would be missing
		// columns and files by the dozen, or an empty feed whose only
		// complaint is a missing session: say what was found instead.
		c.add(notOneRoster(name, f))
		return nil, c.err()
	}
	m, err := readManifest(ctx, src, o.Strict, c)
	if err != nil {
		return nil, err
	}
	if c.total > 0 {
		return nil, c.err()
	}

	r := &roster.Roster{Source: m.source}
	var prev roster.Roster
	if o.Previous != nil {
		prev = *o.Previous
	}
	loc := &locations{}
	for _, k := range Kinds {
		loc.names[k] = k.File()
	}
	files := make([]FileStats, numKinds)
	rd := &reader{src: src, m: m, strict: o.Strict, hasPrev: o.Previous != nil, c: c, loc: loc, stats: files}
	steps := []func() error{
		func() (err error) { r.Orgs, err = readKind(ctx, rd, orgOps, prev.Orgs); return err },
		func() (err error) { r.Sessions, err = readKind(ctx, rd, sessionOps, prev.Sessions); return err },
		func() (err error) { r.Courses, err = readKind(ctx, rd, courseOps, prev.Courses); return err },
		func() (err error) { r.Classes, err = readKind(ctx, rd, classOps, prev.Classes); return err },
		func() (err error) { r.People, err = readKind(ctx, rd, userOps, prev.People); return err },
		func() (err error) {
			r.Enrollments, err = readKind(ctx, rd, enrollmentOps, prev.Enrollments)
			return err
		},
		func() (err error) {
			r.Demographics, err = readKind(ctx, rd, demographicsOps, prev.Demographics)
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
		if c.full() {
			break
		}
	}
	if !c.full() {
		emptyKinds(files, &rd.failed, loc, true, c)
	}
	// Cross-file checks on a roster with missing rows would only repeat
	// the parse errors as dangling references, so they wait for a clean
	// parse.
	if c.total > 0 {
		return nil, c.err()
	}
	c.q.size = sizes(files)
	guard, session := validate(r, loc, &o.ValidateOptions, c)
	q := c.q.enforce(loc, c)
	if err := c.err(); err != nil {
		return nil, err
	}
	return &Feed{Roster: r, Session: session, Guard: guard, Files: files, Quarantined: q}, nil
}

// sizes is the number of rows of each kind the quarantine cap is a share
// of: the rows read, or the records held when more (a delta).
func sizes(files []FileStats) [numKinds]int {
	var out [numKinds]int
	for i := range files {
		out[i] = max(files[i].Rows, files[i].Records)
	}
	return out
}

// refersTo lists, per kind, the kinds its records must point into.
var refersTo = [numKinds][]Kind{
	KindCourses:      {KindOrgs},
	KindClasses:      {KindOrgs, KindSessions, KindCourses},
	KindUsers:        {KindOrgs},
	KindEnrollments:  {KindOrgs, KindClasses, KindUsers},
	KindDemographics: {KindUsers},
}

// needed reports whether the feed cannot do without records of kind k:
// orgs and users always (a feed of nobody would only suspend everyone),
// any other kind when records of another kind refer to it.
func needed(k Kind, files []FileStats) bool {
	if k == KindOrgs || k == KindUsers {
		return true
	}
	for from, to := range refersTo {
		if files[from].Records > 0 && slices.Contains(to, k) {
			return true
		}
	}
	return false
}

// emptyKinds reports, once per file, a kind the feed needs that holds no
// records: a header-only users.csv is one error ("users.csv has no
// rows"), not a dangling reference from each of thousands of enrolments,
// which the cross-file checks would otherwise report (they do not run
// once any error is found). csv says whether kinds are files with a
// header on line 1 (else REST collections, located by name alone).
// A kind whose reading already failed (failed[k]) is not reported again.
func emptyKinds(files []FileStats, failed *[numKinds]bool, loc *locations, csv bool, c *collector) {
	for _, k := range Kinds {
		st := &files[k]
		if st.Records > 0 || failed[k] || !needed(k, files) {
			continue
		}
		name := loc.names[k]
		e := &ParseError{File: name, Err: ErrNoRows}
		switch {
		case st.Mode == ModeAbsent:
			e.Want = fmt.Sprintf("records in %s: the manifest marks it absent, and there is no previous snapshot to carry them over", name)
		case st.Rows == 0 && csv:
			e.Line = 2
			e.Want = fmt.Sprintf("a data row after the header: %s has no rows (a failed or truncated export?)", name)
		case st.Rows == 0:
			e.Want = fmt.Sprintf("at least one record: the provider returned none for %s", name)
		case st.Skipped == st.Rows:
			e.Want = fmt.Sprintf("an active record: every row of %s is marked tobedeleted", name)
		case st.Deleted > 0:
			e.Want = fmt.Sprintf("records left after applying the delta: it deletes every record of %s", name)
		default:
			continue // every row was refused, and each refusal is reported
		}
		c.add(e)
	}
}

// reader is the state one Read shares across kinds.
type reader struct {
	src     *source
	m       *manifest
	strict  bool
	hasPrev bool
	c       *collector
	loc     *locations
	stats   []FileStats
	// failed marks kinds whose reading reported an error.
	failed [numKinds]bool
}

// readKind reads one kind per its manifest mode and returns the records in
// SourcedID order, recording their lines in rd.loc.
func readKind[T any](ctx context.Context, rd *reader, ops kindOps[T], prev []T) ([]T, error) {
	k := ops.kind
	before := rd.c.total
	defer func() { rd.failed[k] = rd.c.total > before }()
	file := k.File()
	mode := rd.m.modes[k]
	st := &rd.stats[k]
	*st = FileStats{Kind: k, Mode: mode}
	name, present := rd.src.lookup(file)

	if mode == ModeAbsent {
		if present {
			rd.c.add(&ParseError{File: file, Want: fmt.Sprintf("no %s, since manifest.csv line %d marks it absent", file, rd.m.lines[k]), Err: ErrUnexpectedFile})
			return nil, nil
		}
		return keep(prev, ops, st, rd.loc), nil
	}
	if !present {
		rd.c.add(&ParseError{File: file, Want: fmt.Sprintf("the file, since manifest.csv line %d marks it %s", rd.m.lines[k], mode), Err: ErrMissingFile})
		return nil, nil
	}
	if mode == ModeDelta && !rd.hasPrev {
		rd.c.add(&ParseError{File: manifestFile, Line: rd.m.lines[k], Column: "value", Value: string(mode),
			Want: "bulk, unless the previous snapshot is supplied to apply the delta to", Err: ErrNoSnapshot})
		return nil, nil
	}
	f, err := rd.src.fsys.Open(name)
	if err != nil {
		rd.c.add(&ParseError{File: file, Want: "a readable file", Err: fmt.Errorf("%w: %w", ErrArchive, err)})
		return nil, nil
	}
	defer f.Close()

	sk := &sink[T]{ops: ops, mode: mode, strict: rd.strict, c: rd.c, st: st}
	var size int64
	if info, err := f.Stat(); err == nil {
		size = info.Size()
	}
	if err := readCSV(ctx, file, f, &tables[k], rd.strict, rd.c, sk.add, size, sk.reserve); err != nil {
		return nil, err
	}
	rows, lines := sk.finish(file, prev)
	rd.loc.lines[k] = lines
	return rows, nil
}

// keep carries a kind over from the snapshot unchanged, for a feed that
// does not carry it.
func keep[T any](prev []T, ops kindOps[T], st *FileStats, loc *locations) []T {
	out := sortedClone(prev, ops.id)
	loc.lines[ops.kind] = make([]int32, len(out)) // all from the snapshot
	st.Kept, st.Records = len(out), len(out)
	return out
}

// sink collects the rows of one kind, from CSV or REST alike, so both
// bindings apply exactly the same rules.
type sink[T any] struct {
	ops     kindOps[T]
	mode    Mode
	strict  bool
	c       *collector
	st      *FileStats
	rows    []T
	lines   []int32
	deleted []bool
	p       parser
}

// reserve sizes the slices for about n rows.
func (s *sink[T]) reserve(n int) {
	s.rows = slices.Grow(s.rows, n)
	s.lines = slices.Grow(s.lines, n)
	if s.mode == ModeDelta {
		s.deleted = slices.Grow(s.deleted, n)
	}
}

// add parses one record. Bad fields are reported and the row is dropped;
// the read as a whole will fail.
func (s *sink[T]) add(rec *record) {
	s.st.Rows++
	// One parser per sink, reset for each row: a fresh one escapes to
	// the heap (the kind's parse is a function value), one allocation
	// per row.
	p := &s.p
	*p = parser{c: s.c, strict: s.strict, rec: rec, holding: s.c.q.hold(s.ops.kind, s.st.Rows, s.c)}
	defer func() {
		if !p.bad || !p.holding {
			return
		}
		if s.c.q.canAll(s.ops.kind, p.held) {
			s.c.q.add(s.ops.kind, strings.TrimSpace(rec.get(cSourcedID)), p.held)
			return
		}
		for _, e := range p.held {
			s.c.add(e)
		}
	}()
	if p.checkText(); p.bad {
		return
	}
	id, status, mod, skip := p.meta(s.mode)
	if skip {
		s.st.Skipped++
		return
	}
	var v T
	if status != statusDeleted {
		// A tobedeleted row needs only its sourcedId: exporters blank the
		// rest.
		v = s.ops.parse(p)
	}
	if p.bad {
		return
	}
	// set is given the row's place in the slice, not &v: a local whose
	// address goes to a function value escapes, one allocation per row
	// (a million for a trust's enrolments).
	s.rows = append(s.rows, v)
	s.ops.set(&s.rows[len(s.rows)-1], id, mod)
	s.lines = append(s.lines, int32(rec.line))
	if s.mode == ModeDelta {
		s.deleted = append(s.deleted, status == statusDeleted)
	}
}

// finish sorts the rows, reports duplicate sourcedIds and, in delta mode,
// applies the rows to the snapshot's records prev.
func (s *sink[T]) finish(file string, prev []T) ([]T, []int32) {
	ops := s.ops
	rows, lines, deleted := sortRows(s.rows, s.lines, s.deleted, ops.id)
	for i := 1; i < len(rows); i++ {
		if id := ops.id(&rows[i]); id == ops.id(&rows[i-1]) {
			s.c.add(&ParseError{File: file, Line: int(lines[i]), Column: "sourcedId", Value: id,
				Want: fmt.Sprintf("a sourcedId not already used at line %d", lines[i-1]), Err: ErrDuplicateID})
		}
	}
	if s.mode == ModeDelta {
		rows, lines = merge(sortedClone(prev, ops.id), rows, lines, deleted, ops, s.st)
	}
	s.st.Records = len(rows)
	return rows, lines
}

// sortRows orders rows by SourcedID, keeping file order among equal ids so
// a duplicate is reported against the later line. Lines and deleted (which
// may be nil) move with their rows. Generated and exported feeds are
// usually sorted already, and then nothing is copied.
func sortRows[T any](rows []T, lines []int32, deleted []bool, id func(*T) string) ([]T, []int32, []bool) {
	if isSortedByID(rows, id) {
		return rows, lines, deleted
	}
	perm := make([]int32, len(rows))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortStableFunc(perm, func(a, b int32) int { return strings.Compare(id(&rows[a]), id(&rows[b])) })
	outRows := make([]T, len(rows))
	outLines := make([]int32, len(rows))
	var outDel []bool
	if deleted != nil {
		outDel = make([]bool, len(rows))
	}
	for i, j := range perm {
		outRows[i], outLines[i] = rows[j], lines[j]
		if deleted != nil {
			outDel[i] = deleted[j]
		}
	}
	return outRows, outLines, outDel
}

// sortedClone copies a snapshot slice in SourcedID order, leaving the
// caller's snapshot untouched.
func sortedClone[T any](s []T, id func(*T) string) []T {
	if isSortedByID(s, id) {
		return slices.Clone(s)
	}
	out, _, _ := sortRows(s, make([]int32, len(s)), nil, id)
	return out
}

// isSortedByID compares rows in place: a comparison over copies of them
// that takes their address makes each copy escape, one allocation per
// comparison.
func isSortedByID[T any](rows []T, id func(*T) string) bool {
	for i := 1; i < len(rows); i++ {
		if id(&rows[i-1]) > id(&rows[i]) {
			return false
		}
	}
	return true
}

// merge applies sorted delta rows to a sorted snapshot. A row older than the
// snapshot's record (by dateLastModified) is stale and ignored: feeds are
// sometimes replayed, and an old change must not undo a newer one.
// Deleting a record the snapshot lacks is harmless and ignored.
func merge[T any](prev, delta []T, lines []int32, deleted []bool, ops kindOps[T], st *FileStats) ([]T, []int32) {
	out := make([]T, 0, len(prev)+len(delta))
	outLines := make([]int32, 0, len(prev)+len(delta))
	i, j := 0, 0
	for i < len(prev) || j < len(delta) {
		var c int
		switch {
		case i == len(prev):
			c = 1
		case j == len(delta):
			c = -1
		default:
			c = strings.Compare(ops.id(&prev[i]), ops.id(&delta[j]))
		}
		switch {
		case c < 0:
			out, outLines = append(out, prev[i]), append(outLines, 0)
			st.Kept++
			i++
		case c > 0:
			if !deleted[j] {
				out, outLines = append(out, delta[j]), append(outLines, lines[j])
				st.Added++
			}
			j++
		default:
			switch {
			case ops.mod(&delta[j]).Before(ops.mod(&prev[i])):
				out, outLines = append(out, prev[i]), append(outLines, 0)
				st.Stale++
			case deleted[j]:
				st.Deleted++
			default:
				out, outLines = append(out, delta[j]), append(outLines, lines[j])
				st.Replaced++
			}
			i++
			j++
		}
	}
	return out, outLines
}

// locations remembers where each record of a roster came from, so that
// cross-file errors can name a file and line. lines[k] is aligned with the
// roster's slice of kind k; a 0 marks a record carried over from the
// previous snapshot.
type locations struct {
	names [numKinds]string
	lines [numKinds][]int32
	// files, when set for a kind, names each record's file (a kind read
	// from several files, as SDS people are); aligned with lines.
	files [numKinds][]string
	// columns, when set, renames a kind's columns in errors (SDS headers).
	columns [numKinds]map[int]string
}

// column names column col of kind k as the feed's header does.
func (l *locations) column(k Kind, col int) string {
	if n, ok := l.columns[k][col]; ok {
		return n
	}
	return tables[k].columns[col].name
}

func (l *locations) at(k Kind, i int) (string, int) {
	name := l.names[k]
	if f := l.files[k]; i < len(f) {
		name = f[i]
	}
	if lines := l.lines[k]; i < len(lines) {
		if lines[i] == 0 {
			return "previous snapshot (" + name + ")", 0
		}
		return name, int(lines[i])
	}
	return name, 0
}
