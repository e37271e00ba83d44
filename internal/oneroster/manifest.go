package oneroster

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rostersync/rostersync/internal/roster"
)

// Mode is how a feed carries one kind of record.
type Mode string

const (
	// ModeBulk files hold every record; the file replaces the snapshot.
	ModeBulk Mode = "bulk"
	// ModeDelta files hold changes since the previous feed: rows marked
	// active are added or replaced, rows marked tobedeleted removed.
	ModeDelta Mode = "delta"
	// ModeAbsent means the feed does not carry the kind. The previous
	// snapshot's records are kept when there is one.
	ModeAbsent Mode = "absent"
)

var modes = []Mode{ModeBulk, ModeDelta, ModeAbsent}

const manifestFile = "manifest.csv"

var manifestTable = table{name: "manifest", columns: []column{req("propertyName"), req("value")}}

// manifest is what manifest.csv says.
type manifest struct {
	source roster.Source
	modes  [numKinds]Mode
	lines  [numKinds]int // where file.<kind> was set, for errors
}

// readManifest reads manifest.csv. Without one (OneRoster 1.1 requires it,
// but hand-made exports often lack it) every present file counts as bulk
// and every missing one as absent; strict mode refuses the feed instead.
func readManifest(ctx context.Context, src *source, strict bool, c *collector) (*manifest, error) {
	m := &manifest{}
	name, ok := src.lookup(manifestFile)
	if !ok {
		if strict {
			c.add(&ParseError{File: manifestFile, Want: "a manifest.csv naming the OneRoster version and each file's mode", Err: ErrMissingFile})
			return m, nil
		}
		for _, k := range Kinds {
			m.modes[k] = ModeAbsent
			if _, ok := src.lookup(k.File()); ok {
				m.modes[k] = ModeBulk
			}
		}
		return m, nil
	}
	f, err := src.fsys.Open(name)
	if err != nil {
		c.add(&ParseError{File: manifestFile, Want: "a readable file", Err: fmt.Errorf("%w: %w", ErrArchive, err)})
		return m, nil
	}
	defer f.Close()

	seen := map[string]int{}
	err = readCSV(ctx, manifestFile, f, &manifestTable, strict, c, func(r *record) {
		key, value := strings.TrimSpace(r.get(0)), strings.TrimSpace(r.get(1))
		fail := func(col int, want string) {
			c.add(&ParseError{File: manifestFile, Line: r.line, Column: manifestTable.columns[col].name, Value: value, Want: want, Err: ErrManifest})
		}
		if key == "" {
			c.add(&ParseError{File: manifestFile, Line: r.line, Column: "propertyName", Want: "a property name", Err: ErrManifest})
			return
		}
		if first, dup := seen[key]; dup {
			c.add(&ParseError{File: manifestFile, Line: r.line, Column: "propertyName", Value: key,
				Want: fmt.Sprintf("each property once (also at line %d)", first), Err: ErrManifest})
			return
		}
		seen[key] = r.line
		switch {
		case key == "oneroster.version":
			// 1.1.x is CSV-compatible with 1.1.
			if value != "1.1" && (strict || !strings.HasPrefix(value, "1.1")) {
				fail(1, "1.1")
			}
		case key == "manifest.version":
			if value != "1.0" && strict {
				fail(1, "1.0")
			}
		case key == "source.systemName":
			m.source.SystemName = value
		case key == "source.systemCode":
			m.source.SystemCode = value
		case strings.HasPrefix(key, "file."):
			mode, ok := roster.Parse(modes, value, !strict)
			if !ok {
				c.add(&ParseError{File: manifestFile, Line: r.line, Column: "value", Value: value, Want: "one of " + join(modes), Err: ErrBadEnum})
				return
			}
			for _, k := range Kinds {
				if key[len("file."):] == k.String() || !strict && strings.EqualFold(key[len("file."):], k.String()) {
					m.modes[k] = mode
					m.lines[k] = r.line
				}
			}
			// Gradebook and resource files are not rostering data; their
			// modes are checked but the files are not read.
		}
	}, 0, nil)
	if err != nil {
		return nil, err
	}
	if _, ok := seen["oneroster.version"]; !ok {
		c.add(&ParseError{File: manifestFile, Column: "propertyName", Want: "a oneroster.version row", Err: ErrManifest})
	}
	for _, k := range Kinds {
		if m.modes[k] == "" {
			if !tables[k].optional || strict {
				c.add(&ParseError{File: manifestFile, Column: "propertyName", Value: "file." + k.String(),
					Want: "a file." + k.String() + " row (bulk, delta or absent)", Err: ErrManifest})
			}
			// An optional file the manifest forgot is read if it is there.
			m.modes[k] = ModeAbsent
			if _, ok := src.lookup(k.File()); ok {
				m.modes[k] = ModeBulk
			}
		}
	}
	return m, nil
}

// source is the feed's file system with case-insensitive lookup.
type source struct {
	fsys  fs.FS
	names map[string]string // lower-case name -> name
	exact bool
}

// newSource finds the feed in fsys: at the root, or inside the one folder
// at the root (zip tools often add one).
func newSource(fsys fs.FS, strict bool) (*source, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	s := &source{fsys: fsys, names: map[string]string{}, exact: strict}
	var dirs []string
	csvs := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			if name != "__MACOSX" {
				dirs = append(dirs, name)
			}
			continue
		}
		if strings.HasSuffix(strings.ToLower(name), ".csv") {
			csvs++
		}
		s.names[strings.ToLower(name)] = name
	}
	if csvs == 0 && len(dirs) == 1 {
		sub, err := fs.Sub(fsys, dirs[0])
		if err != nil {
			return nil, err
		}
		return newSource(sub, strict)
	}
	return s, nil
}

func (s *source) lookup(name string) (string, bool) {
	if s.exact {
		n, ok := s.names[strings.ToLower(name)]
		return n, ok && n == name
	}
	n, ok := s.names[strings.ToLower(name)]
	return n, ok
}
