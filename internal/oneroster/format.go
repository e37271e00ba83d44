package oneroster

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
)

// Format is the CSV format of a feed.
type Format string

const (
	// FormatOneRoster is OneRoster 1.1 CSV.
	FormatOneRoster Format = "oneroster"
	// FormatSDSv1 is Microsoft School Data Sync's classic six files
	// (School.csv, Section.csv, Student.csv, Teacher.csv,
	// StudentEnrollment.csv, TeacherRoster.csv), in the SDS or UK variant.
	FormatSDSv1 Format = "sds-v1"
	// FormatSDSv21 is School Data Sync v2.1 CSV: OneRoster's file names
	// with other headers, and roles.csv.
	FormatSDSv21 Format = "sds-v2.1"
)

// ErrNotOneRoster is a folder or archive holding no OneRoster feed: no
// OneRoster file at all, or the files of another format (SDS).
var ErrNotOneRoster = errors.New("no OneRoster files found")

// ErrUnknownFormat is a format name this package does not read.
var ErrUnknownFormat = errors.New("unknown feed format")

// sdsV1Files are the classic SDS files, in lower case.
var sdsV1Files = []string{"school.csv", "section.csv", "student.csv", "teacher.csv", "studentenrollment.csv", "teacherroster.csv"}

// Detect says which format the CSV files in fsys are in, by their names
// and headers (SDS v2.1 reuses OneRoster's file names, so names alone do
// not tell): SDS v1 by its own file names; SDS v2.1 by a roles.csv, or a
// users.csv with a username but neither role nor enabledUser column.
// Anything else is OneRoster. An unreadable fsys is OneRoster too, whose
// reader reports the problem located.
func Detect(fsys fs.FS) Format {
	src, err := newSource(fsys, false)
	if err != nil {
		return FormatOneRoster
	}
	return src.detect()
}

func (s *source) detect() Format {
	for _, n := range sdsV1Files {
		if _, ok := s.lookup(n); ok {
			return FormatSDSv1
		}
	}
	if _, ok := s.lookup("roles.csv"); ok {
		return FormatSDSv21
	}
	if h := s.header("users.csv"); h != nil && slices.Contains(h, "username") && !slices.Contains(h, "role") && !slices.Contains(h, "enableduser") {
		return FormatSDSv21
	}
	return FormatOneRoster
}

// header returns the lower-cased header of a file, or nil.
func (s *source) header(file string) []string {
	name, ok := s.lookup(file)
	if !ok {
		return nil
	}
	f, err := s.fsys.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	br := bufio.NewReader(io.LimitReader(f, 64<<10))
	if b, _ := br.Peek(3); string(b) == string(utf8BOM) {
		_, _ = br.Discard(3)
	}
	h, err := csv.NewReader(br).Read()
	if err != nil {
		return nil
	}
	for i := range h {
		h[i] = strings.ToLower(strings.TrimSpace(h[i]))
	}
	return h
}

// hasAny reports whether any OneRoster file is present.
func (s *source) hasAny() bool {
	if _, ok := s.lookup(manifestFile); ok {
		return true
	}
	for _, k := range Kinds {
		if _, ok := s.lookup(k.File()); ok {
			return true
		}
	}
	return false
}

// notOneRoster is the located answer for a feed of another format, or of
// no files at all, naming the format found and how to read it.
func notOneRoster(name string, f Format) *ParseError {
	want := "OneRoster 1.1 CSV files (manifest.csv, orgs.csv, users.csv …)"
	switch f {
	case FormatSDSv1:
		want += "; this looks like a School Data Sync v1 export (School.csv, Section.csv, Student.csv …): read it with format sds-v1 (a profile's source.format, or source.kind sds-v1; sync --format sds-v1), or leave the format empty to detect it"
	case FormatSDSv21:
		want += "; this looks like a School Data Sync v2.1 export (roles.csv, users.csv without role): read it with format sds-v2.1 (a profile's source.format, or source.kind sds-v2.1; sync --format sds-v2.1), or leave the format empty to detect it"
	default:
		want += ": there are none"
	}
	return &ParseError{File: name, Want: want, Err: ErrNotOneRoster}
}

// ReadFormat reads a feed in the given format: FormatOneRoster, FormatSDSv1,
// FormatSDSv21, or "" to detect it (Detect).
func ReadFormat(ctx context.Context, fsys fs.FS, format Format, opts *ReadOptions) (*Feed, error) {
	if format == "" {
		format = Detect(fsys)
	}
	switch format {
	case FormatOneRoster:
		return Read(ctx, fsys, opts)
	case FormatSDSv1, FormatSDSv21:
		return ReadSDS(ctx, fsys, format, opts)
	}
	return nil, fmt.Errorf("%w %q: want oneroster, sds-v1 or sds-v2.1", ErrUnknownFormat, format)
}

// ReadZipFormat is ReadFormat for a zip archive of size bytes; name labels
// errors.
func ReadZipFormat(ctx context.Context, r io.ReaderAt, size int64, name string, format Format, opts *ReadOptions) (*Feed, error) {
	zr, err := zipReader(r, size, name)
	if err != nil {
		return nil, err
	}
	return ReadFormat(ctx, zr, format, opts)
}
