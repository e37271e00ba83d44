package oneroster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// record is one CSV row, with its fields found by table column.
type record struct {
	file   string
	line   int
	idx    []int // table column -> field index, or -1
	fields []string
	names  []column
}

// get returns the field of table column c, or "" when the header lacks it.
func (r *record) get(c int) string {
	if i := r.idx[c]; i >= 0 {
		return r.fields[i]
	}
	return ""
}

// checkEvery is how many rows pass between context checks; a check per
// row would cost more than the row.
const checkEvery = 4096

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readCSV reads one OneRoster table from r: an optional UTF-8 byte-order
// mark, a header, then RFC 4180 records with LF or CRLF line ends. It calls
// row for each record whose field count matches the header and whose text
// is UTF-8, and reports every other problem to c, located. After a quoting
// error it stops reading the file, since nothing after it can be trusted.
//
// When size (the file's length, or 0 if unknown) and reserve are given,
// reserve is told after the first record roughly how many records the
// file holds, so the caller can size its slices once instead of growing
// them through a million appends.
//
// The returned error is only the context's; feed problems go to c.
func readCSV(ctx context.Context, file string, r io.Reader, t *table, strict bool, c *collector, row func(*record), size int64, reserve func(int)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, utf8BOM):
		_, _ = br.Discard(len(utf8BOM))
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		c.add(&ParseError{File: file, Line: 1, Want: "UTF-8 text (the file starts with a UTF-16 byte-order mark)", Err: ErrEncoding})
		return nil
	}

	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // counted here, to say what was expected
	cr.ReuseRecord = true   // the slice is reused; the strings are not
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			want := "a header row naming the columns: " + file + " holds only blank lines"
			if len(head) == 0 {
				want = "a header row naming the columns: " + file + " is empty (0 bytes; a failed export?)"
			}
			c.add(&ParseError{File: file, Line: 1, Want: want, Err: ErrMissingHeader})
		} else {
			addReadError(c, file, err)
		}
		return nil
	}
	// ReuseRecord means the next Read overwrites the slice.
	header = slices.Clone(header)
	rec := &record{file: file, names: t.columns, idx: make([]int, len(t.columns))}
	if !readHeader(file, header, t, strict, rec.idx, c) {
		return nil
	}
	nfields := len(header)
	headerEnd := cr.InputOffset()

	for n := 0; ; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("read %s: %w", file, err)
			}
			if c.full() {
				return nil
			}
		}
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			addReadError(c, file, err)
			return nil
		}
		line, _ := cr.FieldPos(0)
		if len(fields) != nfields {
			c.add(&ParseError{File: file, Line: line, Value: fmt.Sprintf("%d fields", len(fields)),
				Want: fmt.Sprintf("%d fields, as in the header (a truncated row, or a comma outside quotes)", nfields), Err: ErrFieldCount})
			continue
		}
		if !utf8Fields(file, line, header, fields, c) {
			continue
		}
		if n == 0 && reserve != nil && size > 0 {
			// Rows are of similar length; overestimate a little so that
			// one reservation usually suffices.
			start := cr.InputOffset()
			if per := start - headerEnd; per > 0 {
				reserve(int(min((size-headerEnd)/per*5/4+16, 1<<26)))
			}
		}
		rec.line = line
		rec.fields = fields
		row(rec)
	}
}

// readHeader maps the table's columns to header positions in idx and
// reports missing required columns and duplicates. Unknown columns are
// tolerated: exporters add their own, and later OneRoster versions add
// more. Outside strict mode header names match case-insensitively.
func readHeader(file string, header []string, t *table, strict bool, idx []int, c *collector) bool {
	ok := true
	for i := range idx {
		idx[i] = -1
	}
	seen := make(map[string]int, len(header))
	for i, h := range header {
		if strings.IndexByte(h, 0) >= 0 {
			// ASCII in UTF-16 is valid UTF-8 interleaved with NULs.
			c.add(&ParseError{File: file, Line: 1, Column: fmt.Sprintf("field %d", i+1),
				Want: "UTF-8 text (NUL bytes suggest UTF-16 without a byte-order mark)", Err: ErrEncoding})
			return false
		}
		if !utf8.ValidString(h) {
			c.add(&ParseError{File: file, Line: 1, Column: fmt.Sprintf("field %d", i+1), Value: h, Want: "UTF-8 text", Err: ErrEncoding})
			ok = false
			continue
		}
		h = strings.TrimSpace(h)
		key := h
		if !strict {
			key = strings.ToLower(h)
		}
		if first, dup := seen[key]; dup {
			c.add(&ParseError{File: file, Line: 1, Column: h, Want: fmt.Sprintf("each column once (also field %d)", first+1), Err: ErrDuplicateColumn})
			ok = false
			continue
		}
		seen[key] = i
		for j, col := range t.columns {
			if match(col.name, h, strict) || col.alias != "" && match(col.alias, h, strict) {
				if idx[j] < 0 {
					idx[j] = i
				}
			}
		}
	}
	for j, col := range t.columns {
		if col.required && idx[j] < 0 && (strict || !col.derivable) {
			c.add(&ParseError{File: file, Line: 1, Column: col.name, Want: "a " + col.name + " column in the header", Err: ErrMissingColumn})
			ok = false
		}
	}
	return ok
}

func match(name, header string, strict bool) bool {
	if strict {
		return name == header
	}
	return strings.EqualFold(name, header)
}

// utf8Fields reports fields that are not UTF-8. Other encodings are refused
// rather than guessed: a wrong guess turns "Zoë" into "ZoÃ«" in a tenant.
func utf8Fields(file string, line int, header, fields []string, c *collector) bool {
	ok := true
	for i, f := range fields {
		if !utf8.ValidString(f) {
			c.add(&ParseError{File: file, Line: line, Column: strings.TrimSpace(header[i]), Value: f,
				Want: "UTF-8 text (is the file saved as Windows-1252 or Latin-1?)", Err: ErrEncoding})
			ok = false
		}
	}
	return ok
}

// addReadError turns an error from csv.Reader into a located error:
// quoting problems become ErrSyntax, anything else (a corrupt zip member,
// a failing disk) ErrArchive.
func addReadError(c *collector, file string, err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		want := "RFC 4180 quoting: a field with commas, quotes or line breaks in double quotes, and \"\" for a quote inside"
		if errors.Is(pe.Err, csv.ErrQuote) {
			want = "a closing double quote just before a comma or line end (a quote left open, text after a closing quote, or a truncated file)"
		}
		// The record's first line is where a person starts looking; the
		// byte position only helps when the problem is on that line.
		e := &ParseError{File: file, Line: pe.StartLine, Want: want, Err: fmt.Errorf("%w: %w", ErrSyntax, pe.Err)}
		if pe.Line == pe.StartLine {
			e.Column = fmt.Sprintf("byte %d", pe.Column)
		}
		c.add(e)
		return
	}
	c.add(&ParseError{File: file, Want: "a readable file", Err: fmt.Errorf("%w: %w", ErrArchive, err)})
}
